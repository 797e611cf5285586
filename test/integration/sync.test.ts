// The engine end to end: the real client against the API double over HTTP, into a real PostgreSQL.
import { afterEach, describe, expect, it } from "vitest";
import { runBackfill, runIncremental, runReconcile } from "../../src/sync/runPass.js";
import { readCheckpoint } from "../../src/db/sql/checkpoints.js";
import { ContractError, StoppedError } from "../../src/errors.js";
import type { RawContact } from "../../src/api/response.js";
import { generateContacts } from "../../src/double/generate.js";
import type { ApiDouble } from "../../src/double/server.js";
import { InboxClient } from "../../src/api/client.js";
import { mirror, source, startRig, TOKEN, type Rig } from "../helpers/sync.js";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const hasLastSeen = (c: Record<string, unknown>) => c.lastSeenAt != null;

/**
 * Moves contacts out of the window mid-read: before every request but the first, three contacts the API
 * already returned (newest createdAt, on earlier pages) are seen again, so with page numbers everything
 * behind them shifts up and rows slide onto pages already read.
 */
function shifter() {
  const touched = new Set<string>();
  const returned = new Set<string>();
  return {
    touched,
    returned,
    beforeAnswer: (req: { n: number }, double: ApiDouble) => {
      if (req.n < 2) return;
      const ids = double.store.randomIds(3, (c) => returned.has(c._id) && !touched.has(c._id) && c.lastSeenAt !== null);
      for (const id of ids) {
        touched.add(id);
        double.store.see(id, Date.now() + 60_000);
      }
    },
    /** Records which rows the API returned, seen from outside the engine. */
    watch(client: InboxClient) {
      const fetchPage = client.fetchPage.bind(client);
      client.fetchPage = async (request) => {
        const answer = await fetchPage(request);
        for (const r of answer.rows) returned.add(r._id);
        return answer;
      };
    },
  };
}

function expectSameContacts(actual: Map<string, unknown>, expected: Map<string, unknown>) {
  const missing = [...expected.keys()].filter((id) => !actual.has(id));
  const extra = [...actual.keys()].filter((id) => !expected.has(id));
  expect({ missing: missing.length, extra: extra.length }).toEqual({ missing: 0, extra: 0 });
  for (const [id, contact] of expected) expect(actual.get(id), id).toEqual(contact);
}

describe("sync", () => {
  it("mirrors every contact seen since SYNC_START_AT, then a reconcile adds those never seen", async () => {
    // One lane: the request count below is that of a single seek (lanes add one request each, tested below).
    rig = await startRig({ contacts: 1500, pageSize: 50 }, { concurrency: 1 });
    const summary = await runIncremental(rig.ctx);
    expect(summary.status).toBe("succeeded");
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
    const expected = source(rig.double, hasLastSeen).size;
    expect(summary.inserted).toBe(expected);
    // Seeking re-reads one boundary row per page, and one last request confirms the end.
    expect(summary.requests).toBeLessThanOrEqual(Math.ceil(expected / 49) + 2);
    const checkpoint = await readCheckpoint(rig.db.prisma, "default", "incremental");
    expect(checkpoint.windowStart).toBeNull();
    expect(checkpoint.syncedUntil?.getTime()).toBe(new Date(summary.windows[0]!.to).getTime());
    expect(checkpoint.pageSize).toBe(50);

    await runReconcile(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double));
  });

  it("maps the documented columns", async () => {
    rig = await startRig({ contacts: 200 });
    await runIncremental(rig.ctx);
    const c = [...rig.double.store.visible()].find((x) => x.lastSeenAt && x.profile?.userDetails?.contact?.email)! as unknown as RawContact & Record<string, any>;
    const [row] = await rig.db.prisma.$queryRaw<Record<string, unknown>[]>`SELECT * FROM contacts WHERE id = ${c._id}`;
    expect(row).toMatchObject({
      account: "default",
      email: c.profile.userDetails.contact.email,
      status: c.status,
      platforms: c.platform,
      segments: c.segments,
      deleted_at: null,
    });
    expect((row!.last_seen_at as Date).toISOString()).toBe(c.lastSeenAt);
    expect((row!.created_at as Date).toISOString()).toBe(c.createdAt);
    expect(row!.raw).toEqual(JSON.parse(JSON.stringify(c)));
  });

  it("a second run reads only the window since the checkpoint, and picks up what moved", async () => {
    rig = await startRig({ contacts: 800, pageSize: 40 });
    await runIncremental(rig.ctx);
    const moved = rig.double.store.randomIds(30, (c) => c.isContact === true && c.lastSeenAt !== null);
    for (const id of moved) rig.double.store.see(id);
    const created = rig.double.store.create(7);
    const second = await runIncremental(rig.ctx);
    expect(second.inserted).toBe(7);
    expect(second.requests).toBeLessThanOrEqual(3);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
    const ids = new Set((await mirror(rig.db)).keys());
    for (const c of created) expect(ids.has(c._id)).toBe(true);
  });

  it("never skips a contact that stays in the window while others leave it mid-read", async () => {
    const shift = shifter();
    const { touched, returned } = shift;
    rig = await startRig({
      contacts: 600, pageSize: 20,
      beforeAnswer: shift.beforeAnswer,
    });
    shift.watch(rig.client);
    const stayed = source(rig.double, hasLastSeen);
    await runIncremental(rig.ctx);
    const mirrored = await mirror(rig.db);
    expect(touched.size).toBeGreaterThan(50);
    const skipped = [...stayed.keys()].filter((id) => !touched.has(id) && !mirrored.has(id));
    expect(skipped).toEqual([]);
  });

  it("the same moves make naive page-number paging skip contacts (the test above has teeth)", async () => {
    const shift = shifter();
    const { touched, returned } = shift;
    rig = await startRig({
      contacts: 600, pageSize: 20,
      beforeAnswer: shift.beforeAnswer,
    });
    const stayed = source(rig.double, hasLastSeen);
    const window = { from: new Date("2000-01-01T00:00:00Z"), to: new Date() };
    const seen = new Set<string>();
    for (let page = 1; ; page += 1) {
      const { rows } = await rig.client.fetchPage({ query: { lastSeenAt: window }, page });
      if (rows.length === 0) break;
      for (const r of rows) {
        returned.add(r._id);
        seen.add(r._id);
      }
    }
    const skipped = [...stayed.keys()].filter((id) => !touched.has(id) && !seen.has(id));
    expect(skipped.length).toBeGreaterThan(0);
  });

  it("with faults and live changes on, then quiet: one more sync and a reconcile make the mirror exact", async () => {
    rig = await startRig(
      { contacts: 1200, pageSize: 30, faults: { rate: 0.2, kinds: ["429", "429-no-retry-after", "500-html", "502-html", "503-html", "reset", "truncated", "html-200", "slow"], slowMs: 400, retryAfterSeconds: 0 } },
      { retries: 12, timeoutMs: 250 },
    );
    rig.double.startMutations({ everyMs: 5, see: 2, create: 1, editSilently: 1, delete: 1 });
    const first = await runIncremental(rig.ctx);
    rig.double.stopMutations();
    expect(first.status).toBe("succeeded");
    expect(first.retries).toBeGreaterThan(0);
    expect(rig.double.stats.faults).toBeGreaterThan(0);

    await runIncremental(rig.ctx);
    // Everything whose lastSeenAt moved is in the mirror with its current content.
    const mirrored = await mirror(rig.db);
    for (const [id, c] of source(rig.double, hasLastSeen)) {
      if (!mirrored.has(id)) throw new Error(`contact ${id} missing after the second sync`);
      void c;
    }
    await runReconcile(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double));
    const deleted = rig.double.store.all().filter((c) => c.status === "DELETED").map((c) => c._id);
    const marked = await rig.db.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM contacts WHERE deleted_at IS NOT NULL`;
    const mirroredBefore = new Set(marked.map((r) => r.id));
    for (const id of mirroredBefore) expect(deleted).toContain(id);
  });

  it("reconcile rewrites silent edits, marks deletions, and clears the mark when a contact returns", async () => {
    rig = await startRig({ contacts: 400, pageSize: 25 });
    await runIncremental(rig.ctx);
    await runReconcile(rig.ctx);
    const [edited] = rig.double.store.randomIds(1, (c) => c.isContact === true);
    const before = rig.double.store.get(edited!)!.lastSeenAt;
    rig.double.store.editSilently(edited!);
    expect(rig.double.store.get(edited!)!.lastSeenAt).toBe(before);
    const gone = rig.double.store.randomIds(5, (c) => c.isContact === true && c._id !== edited);
    for (const id of gone) rig.double.store.delete(id);

    const sync = await runIncremental(rig.ctx);
    expect(sync.updated).toBe(0); // a lastSeenAt window cannot see either change

    const pass = await runReconcile(rig.ctx);
    expect(pass.deleted).toBe(5);
    expect(pass.updated).toBe(1);
    expectSameContacts(await mirror(rig.db), source(rig.double));
    const marked = await rig.db.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM contacts WHERE deleted_at IS NOT NULL ORDER BY id`;
    expect(marked.map((r) => r.id)).toEqual([...gone].sort());

    rig.double.store.restore(gone[0]!);
    const again = await runReconcile(rig.ctx);
    expect(again.restored).toBe(1);
    expect(again.deleted).toBe(0);
    expectSameContacts(await mirror(rig.db), source(rig.double));
  });

  it("refuses to mark most of the mirror deleted unless told to", async () => {
    rig = await startRig({ contacts: 100, pageSize: 25 });
    await runReconcile(rig.ctx);
    for (const id of rig.double.store.randomIds(80, (c) => c.isContact === true)) rig.double.store.delete(id);
    await expect(runReconcile(rig.ctx)).rejects.toThrow(/--allow-mass-delete/);
    const [{ n }] = (await rig.db.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM contacts WHERE deleted_at IS NOT NULL`) as [{ n: number }];
    expect(n).toBe(0);
    const forced = await runReconcile(rig.ctx, { allowMassDelete: true });
    expect(forced.deleted).toBe(80);
    // It finished the same pass: no new requests beyond confirming the end.
    expect(forced.requests).toBeLessThanOrEqual(2);
  });

  it("an unchanged re-read writes no rows", async () => {
    rig = await startRig({ contacts: 500, pageSize: 50 });
    await runIncremental(rig.ctx);
    const versions = async () => rig!.db.prisma.$queryRaw<{ id: string; v: string }[]>`SELECT id, xmin::text AS v FROM contacts ORDER BY id`;
    const before = await versions();
    const again = await runBackfill(rig.ctx, { from: new Date("2000-01-01T00:00:00Z"), to: new Date() });
    expect(again).toMatchObject({ inserted: 0, updated: 0 });
    expect(again.unchanged).toBe(before.length);
    expect(await versions()).toEqual(before);
    const reconcile = await runReconcile(rig.ctx);
    expect(reconcile.updated).toBe(0);
  });

  it("backfill leaves the checkpoint alone", async () => {
    rig = await startRig({ contacts: 300, pageSize: 50 });
    await runIncremental(rig.ctx);
    const before = await readCheckpoint(rig.db.prisma, "default", "incremental");
    await rig.db.prisma.$executeRaw`DELETE FROM contacts`;
    const summary = await runBackfill(rig.ctx, { from: new Date("2000-01-01T00:00:00Z"), to: new Date() });
    expect(summary.inserted).toBe(source(rig.double, hasLastSeen).size);
    expect(await readCheckpoint(rig.db.prisma, "default", "incremental")).toEqual(before);
  });

  it("a run stopped mid-window keeps its pages, and the next run resumes at the cursor", async () => {
    // One lane: the resumed run re-reads nothing but the boundary (lanes are tested below).
    rig = await startRig({ contacts: 1000, pageSize: 20 }, { concurrency: 1 });
    const stop = new AbortController();
    let pages = 0;
    const ctx = { ...rig.ctx, signal: stop.signal, onPage: () => { if (++pages === 10) stop.abort(); } };
    await expect(runIncremental(ctx)).rejects.toBeInstanceOf(StoppedError);
    const checkpoint = await readCheckpoint(rig.db.prisma, "default", "incremental");
    expect(checkpoint.windowStart).not.toBeNull();
    expect(checkpoint.cursor).not.toBeNull();
    expect(checkpoint.syncedUntil).toBeNull();
    // The checkpoint is not ahead of the data: everything above the cursor is mirrored.
    const mirrored = await mirror(rig.db);
    const above = [...source(rig.double, hasLastSeen).values()].filter((c) => Date.parse((c as RawContact).createdAt as string) >= checkpoint.cursor!.getTime());
    expect(above.length).toBeGreaterThan(0);
    for (const c of above) expect(mirrored.has((c as RawContact)._id)).toBe(true);
    expect(mirrored.size).toBeGreaterThanOrEqual(9 * 19);

    const requestsBefore = rig.double.stats.requests;
    const resumed = await runIncremental(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
    // It did not start over: the resumed window needs fewer requests than a whole one.
    const total = source(rig.double, hasLastSeen).size;
    expect(rig.double.stats.requests - requestsBefore).toBeLessThan(Math.ceil(total / 19));
    const runs = await rig.db.prisma.syncRun.findMany({ orderBy: { id: "asc" } });
    expect(runs.map((r) => r.status)).toEqual(["stopped", "succeeded"]);
    expect(resumed.windows.length).toBe(2);
  });

  it("lane progress stored as positions on another order is cleared when the read resumes, never taken for positions on the order measured now", async () => {
    rig = await startRig({ contacts: 1500, pageSize: 20 }, { concurrency: 4, lanePages: 3 });
    const stopAfter = async (n: number, concurrency = 4) => {
      const stop = new AbortController();
      let pages = 0;
      const ctx = { ...rig!.ctx, config: { ...rig!.ctx.config, concurrency }, signal: stop.signal, onPage: () => { if (++pages === n) stop.abort(); } };
      await expect(runIncremental(ctx)).rejects.toBeInstanceOf(StoppedError);
      return readCheckpoint(rig!.db.prisma, "default", "incremental");
    };
    const interrupted = await stopAfter(30);
    expect(interrupted.laneProgress.length).toBeGreaterThan(0);
    // As if the API had been measured to list in another order since: the stored positions are on that one.
    await rig.db.pool.query(`UPDATE sync_checkpoints SET cursor_order = 'createdAt asc' WHERE kind = 'incremental'`);
    // One lane, so that no lane of this run stores progress of its own before the stop.
    const resumed = await stopAfter(1, 1);
    expect(resumed.cursorOrder).toBe("createdAt desc");
    expect(resumed.laneProgress).toEqual([]);
    await runIncremental(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
  });

  it("refuses an API that ignores the window, writing nothing", async () => {
    rig = await startRig({ contacts: 200, pageSize: 50, honourDateFilters: false });
    // A first sync with a recent start: the API returns everything, including contacts seen long before.
    const ctx = { ...rig.ctx, config: { ...rig.ctx.config, startAt: new Date(Date.now() - 3_600_000) } };
    const error = await runIncremental(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as Error).message).toMatch(/ignored the lastSeenAt filter/);
    expect((await mirror(rig.db)).size).toBe(0);
    const runs = await rig.db.prisma.syncRun.findMany();
    expect(runs[0]).toMatchObject({ status: "failed" });
    expect(runs[0]!.error).toMatch(/ignored the lastSeenAt filter/);
  });

  it("more contacts in one millisecond than a page holds (a bulk import) are all read", async () => {
    rig = await startRig({ contacts: 0, pageSize: 10 });
    const at = Date.now() - 3_600_000;
    generateContacts(35, { seed: 7, now: () => at }).forEach((c, i) => {
      rig!.double.store.insert({
        ...c, _id: `bulk${String(i).padStart(20, "0")}`, isContact: true,
        createdAt: new Date(at).toISOString(), lastSeenAt: new Date(at + 1000).toISOString(),
      });
    });
    await runIncremental(rig.ctx);
    await runReconcile(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double));
  });
});

describe("sync in lanes (SYNC_CONCURRENCY)", () => {
  it("reads a window in parallel lanes: exact mirror, requests near the ideal, never more in flight than allowed", async () => {
    rig = await startRig({ contacts: 4000, pageSize: 25, latencyMs: 5 }, { concurrency: 4, lanePages: 5 });
    let inFlight = 0;
    let most = 0;
    const fetchPage = rig.client.fetchPage.bind(rig.client);
    rig.client.fetchPage = async (request) => {
      most = Math.max(most, ++inFlight);
      try {
        return await fetchPage(request);
      } finally {
        inFlight -= 1;
      }
    };
    const summary = await runIncremental(rig.ctx);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
    const expected = source(rig.double, hasLastSeen);
    expectSameContacts(await mirror(rig.db), expected);
    expect(summary.inserted).toBe(expected.size);
    // Each lane ends on a partly filled page: a few percent above contacts / page size.
    expect(summary.requests).toBeLessThanOrEqual(Math.ceil((expected.size / 25) * 1.25));
    const [run] = await rig.db.prisma.syncRun.findMany();
    expect(run).toMatchObject({ pages: summary.pages, inserted: summary.inserted, received: summary.received });
    await runReconcile(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double));
  });

  it("one lane (SYNC_CONCURRENCY=1) reads the same mirror", async () => {
    rig = await startRig({ contacts: 1000, pageSize: 25 }, { concurrency: 1 });
    await runIncremental(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
  });

  it("lanes skip no contact that stays while others leave mid-read", async () => {
    const shift = shifter();
    const { touched, returned } = shift;
    rig = await startRig({
      contacts: 1500, pageSize: 20,
      beforeAnswer: shift.beforeAnswer,
    }, { concurrency: 4, lanePages: 3 });
    shift.watch(rig.client);
    const stayed = source(rig.double, hasLastSeen);
    await runIncremental(rig.ctx);
    const mirrored = await mirror(rig.db);
    expect(touched.size).toBeGreaterThan(50);
    expect([...stayed.keys()].filter((id) => !touched.has(id) && !mirrored.has(id))).toEqual([]);
  });

  it("stopped mid-window with lanes: the stored cursor has everything above it, and the next run completes", async () => {
    rig = await startRig({ contacts: 3000, pageSize: 20, latencyMs: 3 }, { concurrency: 4, lanePages: 4 });
    const stop = new AbortController();
    let pages = 0;
    const ctx = { ...rig.ctx, signal: stop.signal, onPage: () => { if (++pages === 25) stop.abort(); } };
    await expect(runIncremental(ctx)).rejects.toBeInstanceOf(StoppedError);
    const checkpoint = await readCheckpoint(rig.db.prisma, "default", "incremental");
    expect(checkpoint.cursor).not.toBeNull();
    const mirrored = await mirror(rig.db);
    const above = [...source(rig.double, hasLastSeen).values()].filter((c) => Date.parse((c as RawContact).createdAt as string) >= checkpoint.cursor!.getTime());
    expect(above.length).toBeGreaterThan(0);
    for (const c of above) expect(mirrored.has((c as RawContact)._id)).toBe(true);
    await runIncremental(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
  });

  it("429s lower the lanes in flight, and the run still completes exactly", async () => {
    rig = await startRig({ contacts: 2000, pageSize: 20, faults: { rate: 0.3, kinds: ["429"], retryAfterSeconds: 0 } }, { concurrency: 6, lanePages: 3, retries: 15 });
    const summary = await runIncremental(rig.ctx);
    expect(rig.client.throttled).toBeGreaterThan(0);
    expect(summary.retries).toBeGreaterThan(0);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
  });
});

describe("INBOX_FILTERS", () => {
  it("mirrors only the filtered contacts, and a reconcile with the same filters marks nothing else", async () => {
    rig = await startRig({ contacts: 600, pageSize: 25 });
    const client = new InboxClient({
      baseUrl: new URL(rig.double.url), token: TOKEN, filters: { status: ["CLOSED"] }, timeoutMs: 5000, retries: 2,
      logger: rig.ctx.logger, minBackoffMs: 5, maxBackoffMs: 20,
    });
    try {
      const ctx = { ...rig.ctx, client };
      await runIncremental(ctx);
      const closed = source(rig.double, (c) => c.status === "CLOSED" && c.lastSeenAt != null);
      expect(closed.size).toBeGreaterThan(20);
      expectSameContacts(await mirror(rig.db), closed);
      const pass = await runReconcile(ctx);
      expect(pass.deleted).toBe(0);
      expectSameContacts(await mirror(rig.db), source(rig.double, (c) => c.status === "CLOSED"));
    } finally {
      await client.close();
    }
  });
});

describe("account lock", () => {
  it("a pass whose lock session is killed stops cleanly (no crash, no second writer) and the next run completes", async () => {
    let killed = false;
    rig = await startRig({
      contacts: 800, pageSize: 20, latencyMs: 5,
      beforeAnswer: async (req) => {
        if (req.n !== 6 || killed) return;
        killed = true;
        // End the session that holds the advisory lock, as a failover or pg_terminate_backend would.
        await rig!.db.pool.query(
          // Only this test's database: other tests run on the same server at the same time.
          "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid() " +
            "and database = (select oid from pg_database where datname = current_database())",
        );
      },
    }, { concurrency: 1 });
    const error = (await runIncremental(rig.ctx).catch((e: unknown) => e)) as Error;
    expect(killed).toBe(true);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/holding this account's lock ended.*next run resumes/s);
    const runs = await rig.db.prisma.syncRun.findMany();
    expect(runs[0]).toMatchObject({ status: "failed" });
    const locks = await rig.db.pool.query(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())",
    );
    expect(locks.rows[0].n).toBe(0);
    await runIncremental(rig.ctx);
    expectSameContacts(await mirror(rig.db), source(rig.double, hasLastSeen));
  });
});
