// `contacts-sync db` and the processes that share its embedded PostgreSQL: the URL stays the same across
// restarts (port and password kept per data directory), and a worker using it stops with 0 on SIGTERM, as
// does `db` itself.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble } from "../../src/double/server.js";
import { startCli, type CliProcess } from "../helpers/cli.js";
import { TOKEN } from "../helpers/sync.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function track(run: CliProcess): CliProcess {
  cleanup.push(async () => {
    try {
      process.kill(run.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await run.done;
  });
  return run;
}

async function urlOf(run: CliProcess): Promise<string> {
  for (let i = 0; i < 600; i += 1) {
    const match = /psql "([^"]+)"/.exec(run.stdout());
    if (match) return match[1]!;
    await sleep(100);
  }
  throw new Error(`db did not print its URL: ${run.stderr()}`);
}

describe("contacts-sync db", () => {
  it("keeps one URL per data directory, and SIGTERM ends it and a worker sharing it with 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-db-"));
    chmodSync(dir, 0o755);
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const env = { CONTACTS_SYNC_DATA_DIR: dir, LOG_FORMAT: "json" };

    const first = track(startCli(["db"], env));
    const url = await urlOf(first);
    const password = new URL(url).password;
    expect(password).not.toBe("contacts-sync"); // random, per data directory
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(readFileSync(join(dir, "pg.password"), "utf8").trim()).toBe(decodeURIComponent(password));

    // A worker on the same data directory finds the server running and uses it.
    const double = await startApiDouble({ token: TOKEN, contacts: 200 });
    cleanup.push(() => double.close());
    const worker = track(startCli(["worker"], {
      ...env, INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, SYNC_LAG: "0", HTTP_PORT: String(await freePort()),
      SYNC_CRON: "0 0 1 1 *", RECONCILE_CRON: "0 0 1 1 *",
    }));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    cleanup.push(() => client.end());
    for (;;) {
      const runs = await client.query("SELECT status FROM sync_runs WHERE status = 'succeeded'").catch(() => ({ rowCount: 0 }));
      if ((runs.rowCount ?? 0) > 0) break;
      if (worker.stderr().includes('"level":50')) throw new Error(worker.stderr());
      await sleep(100);
    }
    process.kill(worker.pid, "SIGTERM");
    expect((await worker.done).code, worker.stderr()).toBe(0);
    await client.end();
    cleanup.pop();

    process.kill(first.pid, "SIGTERM");
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).not.toMatch(/page in flight/);

    // Started again: the same port and password, so a saved connection keeps working.
    const second = track(startCli(["db"], env));
    expect(await urlOf(second)).toBe(url);
    process.kill(second.pid, "SIGINT");
    expect((await second.done).code).toBe(0);

    // --port moves it, once and for good.
    const port = await freePort();
    const moved = track(startCli(["db", "--port", String(port)], env));
    expect(new URL(await urlOf(moved)).port).toBe(String(port));
    process.kill(moved.pid, "SIGTERM");
    expect((await moved.done).code).toBe(0);
    expect(readFileSync(join(dir, "pg.port"), "utf8").trim()).toBe(String(port));
  }, 120_000);
});
