// The command line as a newcomer meets it: help for every command from the command table, --version,
// usage errors with a suggestion, the README's exit-code table against real runs, --json, progress on a
// terminal and off one, settings that look like ours but are not, and an API that cannot be reached.
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli.js";
import { COMMANDS } from "../../src/commands/table.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { BIN, ROOT, cli, startCli } from "../helpers/cli.js";
import { TOKEN } from "../helpers/sync.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(contacts: number, options: Partial<Parameters<typeof startApiDouble>[0]> = {}): Promise<{ double: ApiDouble; db: TestDatabase; env: Record<string, string> }> {
  const double = await startApiDouble({ token: TOKEN, contacts, ...options });
  const db = await createDatabase({ migrate: false });
  cleanup.push(() => double.close(), () => db.drop());
  return { double, db, env: { INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01" } };
}

/** The CLI's main() in this process (no settings read for help), with what it wrote to stdout. */
async function inProcess(argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), stdout };
  } finally {
    write.mockRestore();
  }
}

const VERSION = (JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { version: string }).version;

describe("help and usage come from the command table", () => {
  it("every command answers --help and `help <command>` with its own options (exit 0)", async () => {
    const general = await cli(["--help"], {});
    expect(general.code).toBe(0);
    for (const command of COMMANDS) {
      expect(general.stdout).toContain(`  ${command.name}`);
      const help = await cli([command.name, "--help"], {});
      expect(help.code, command.name).toBe(0);
      expect(help.stdout).toContain(`usage: contacts-sync ${command.name}`);
      for (const option of Object.keys(command.options)) expect(help.stdout, `${command.name} --${option}`).toContain(`--${option}`);
      expect(await inProcess(["help", command.name])).toEqual({ code: 0, stdout: help.stdout });
    }
  }, 180_000);

  it("--version and -V print the package version (exit 0)", async () => {
    for (const flag of ["--version", "-V"]) {
      const run = await cli([flag], {});
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(`contacts-sync ${VERSION}`);
    }
  });

  it("a typo'd command or option, or an extra argument, exits 2 with a suggestion", async () => {
    const typo = await cli(["synk"], {});
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command "synk"; did you mean sync\?/);
    expect((await cli(["help", "reconsile"], {})).stderr).toMatch(/did you mean reconcile\?/);
    const option = await cli(["status", "--jsn"], {});
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option '--jsn'; did you mean --json\?/);
    expect((await cli(["sync", "--acount", "x"], {})).stderr).toMatch(/did you mean --account\?/);
    // Options belong to their command: sync has no --from.
    const foreign = await cli(["sync", "--from", "2024-01-01"], { INBOX_API_TOKEN: TOKEN });
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/Unknown option '--from'/);
    const extra = await cli(["demo", "extra"], {});
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/unexpected argument "extra"/);
    const missing = await cli(["grant-reader"], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing <role>/);
  });

  it("api-double refuses a bad option in one line, and its start line says what to set", async () => {
    const bad = await cli(["api-double", "--contacts", "many"], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--contacts must be a whole number/);
    const running = startCli(["api-double", "--contacts", "5", "--token", "t0ken-for-test"], {});
    cleanup.push(async () => {
      process.kill(running.pid, "SIGTERM");
      await running.done;
    });
    while (!running.stdout().includes("INBOX_API_TOKEN")) await sleep(50);
    expect(running.stdout()).toMatch(/INBOX_API_URL=http:\/\/127\.0\.0\.1:\d+\n {2}INBOX_API_TOKEN=/);
  });
});

describe("exit statuses", () => {
  it("the README's exit-code table is what real runs return", async () => {
    const readme = readFileSync(`${ROOT}/README.md`, "utf8");
    const section = readme.slice(readme.indexOf("| exit status |"));
    const table = [...section.slice(0, section.indexOf("\n\n")).matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(table).toEqual([0, 1, 2, 130]);

    expect((await cli(["--version"], {})).code).toBe(0);
    expect((await cli(["sync"], { INBOX_API_TOKEN: TOKEN, DATABASE_URL: "postgresql://u:p@127.0.0.1:1/x" })).code).toBe(1);
    expect((await cli(["sync"], {})).code).toBe(2); // no token: a setting is missing
    // A signal stops a pass at a page boundary: 0. A second one cuts the stop short: 130.
    const { db, env } = await setup(3000, { pageSize: 20, latencyMs: 150 });
    for (const [signals, code] of [[["SIGTERM"], 0], [["SIGTERM", "SIGINT"], 130]] as const) {
      const run = startCli(["sync"], { ...env, SYNC_CONCURRENCY: "1" });
      // Mid-pass: once this run has committed a page.
      for (;;) {
        await sleep(100);
        const r = await db.pool.query("SELECT coalesce(max(pages), 0)::int AS p FROM sync_runs WHERE status = 'running'").catch(() => ({ rows: [{ p: 0 }] }));
        if ((r.rows[0]?.p ?? 0) >= 1) break;
      }
      for (const s of signals) process.kill(run.pid, s);
      const result = await run.done;
      expect(result.code, result.stderr).toBe(code);
    }
  });
});

describe("results on stdout, progress and logs on stderr", () => {
  it("--json prints one summary that matches sync_runs; nothing else on stdout", async () => {
    const { db, env } = await setup(400, { pageSize: 50 });
    const run = await cli(["sync", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    const row = (await db.pool.query("SELECT * FROM sync_runs WHERE id = $1", [summary.runId])).rows[0];
    expect(summary).toMatchObject({
      kind: row.kind, status: row.status, requests: row.requests, pages: row.pages, received: row.received,
      inserted: row.inserted, updated: row.updated, unchanged: row.unchanged,
    });
    expect(summary.written).toBe(row.inserted + row.updated);
    expect(summary.reRead).toBe(row.received - row.inserted - row.updated - row.unchanged);
    // --account is SYNC_ACCOUNT for this run.
    const other = await cli(["reconcile", "--json", "--account", "second"], env);
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)).toMatchObject({ kind: "reconcile", status: "succeeded" });
    const accounts = (await db.pool.query("SELECT DISTINCT account FROM contacts ORDER BY 1")).rows.map((r) => r.account);
    expect(accounts).toEqual(["default", "second"]);
  });

  it("without a terminal, a long pass logs its progress every PROGRESS_INTERVAL; --quiet silences it", async () => {
    const { env } = await setup(800, { pageSize: 20, latencyMs: 100 });
    const run = await cli(["sync"], { ...env, SYNC_CONCURRENCY: "1", PROGRESS_INTERVAL: "1s", LOG_FORMAT: "json" });
    expect(run.code, run.stderr).toBe(0);
    const progress = run.stderr.split("\n").filter((l) => l.includes('"msg":"progress:')).map((l) => JSON.parse(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ level: 30, kind: "incremental", concurrency: 1 });
    expect(progress.at(-1).received).toBeGreaterThan(progress[0].received);
    expect(run.stdout).not.toContain("progress");
    const quiet = await cli(["sync", "--quiet"], { ...env, PROGRESS_INTERVAL: "1s", LOG_FORMAT: "json", SYNC_LOOKBACK: "30d" });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain("progress");
  });

  it("on a terminal, a long pass keeps one live line that updates", async () => {
    const { env } = await setup(800, { pageSize: 20, latencyMs: 100 });
    // script(1) gives the child a pseudo-terminal, as a user's shell would.
    const all = { PATH: process.env.PATH ?? "", HOME: "/tmp", CONTACTS_SYNC_DATA_DIR: "/nonexistent-do-not-use", NO_COLOR: "1", ...env, SYNC_CONCURRENCY: "1" };
    const child = spawn("script", ["-qfec", `stty cols 300; ${process.execPath} ${BIN} sync`, "/dev/null"], { cwd: ROOT, env: all });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, output).toBe(0);
    const lines = output.split("\r\x1b[2K").map((l) => l.trim()).filter((l) => l.startsWith("received "));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(new Set(lines).size).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/^received \d+, written \d+, pages \d+; [\d.]+ req\/s, [\d.]+ contacts\/s; \S+ elapsed; concurrency 1\/1; retries \d+, 429s \d+$/);
    expect(output).not.toContain("\x1b[2m"); // NO_COLOR
    expect(output).toMatch(/incremental: succeeded/);
  });
});

describe("settings and an unreachable API", () => {
  it("warns about variables that look like ours but are not, with the nearest name", async () => {
    const run = await cli(["migrate", "--help"], {});
    expect(run.code).toBe(0);
    const typo = await cli(["status"], { DATABASE_URL: "postgresql://u:p@127.0.0.1:1/x", INBOX_API_TOKN: "x", SYNC_LOOKBAK: "5m", CONTACTS_SYNC_DATADIR: "d" });
    expect(typo.stderr).toMatch(/INBOX_API_TOKN is not a setting of contacts-sync and is ignored; did you mean INBOX_API_TOKEN\?/);
    expect(typo.stderr).toMatch(/SYNC_LOOKBAK .*did you mean SYNC_LOOKBACK\?/);
    expect(typo.stderr).toMatch(/CONTACTS_SYNC_DATADIR .*did you mean CONTACTS_SYNC_DATA_DIR\?/);
  });

  it.each([
    ["a refused port", "http://127.0.0.1:1", /The inbox API at http:\/\/127\.0\.0\.1:1 refused the connection .*check INBOX_API_URL/],
    ["a host name that does not resolve", "https://contacts-sync-test.invalid", /host name "contacts-sync-test\.invalid" does not resolve \(DNS failure.*https:\/\/contacts-sync-test\.invalid: check INBOX_API_URL/],
  ])("%s is named with its URL, and the run ends in seconds", async (_what, url, pattern) => {
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => db.drop());
    const run = await cli(["sync"], { INBOX_API_URL: url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, LOG_FORMAT: "json" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toMatch(/rate-limiting/);
    const row = (await db.pool.query("SELECT requests, error, extract(epoch FROM finished_at - started_at)::float AS seconds FROM sync_runs")).rows[0];
    expect(row.error).toMatch(pattern);
    // DNS: the first attempt and at most two retries; refused: a few seconds of retries. The run (from its
    // start in sync_runs to its end) stays within the 15 s promised, whatever the machine's load.
    if (url.includes("invalid")) expect(row.requests).toBe(3);
    else expect(row.requests).toBeLessThanOrEqual(5);
    expect(row.seconds).toBeLessThan(15);
  });
});
