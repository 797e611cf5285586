// The benchmark must not rot silently: a small run of `npm run bench` (a few thousand contacts, one run, tiny
// naive and latency rows) on the tests' PostgreSQL, checked for a sane table. Needs the build (npm ci runs it).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { adminUrl } from "../helpers/db.js";
import { BEGIN, END, replaceSection, seekRequests, type Results } from "../../bench/report.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "contacts-sync-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, "node_modules/.bin/tsx"), ["bench/run.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", BENCH_DATABASE_URL: adminUrl() },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run bench", () => {
  it("runs end to end on a small data set and reports sane figures", async () => {
    const json = join(dir, "results.json");
    const doc = join(dir, "benchmarks.md");
    const { code, stdout, stderr } = await bench([
      "--contacts", "2000", "--runs", "1", "--naive", "100", "--latency-contacts", "300", "--latency-ms", "20",
      "--concurrency", "1,4", "--memory", "", "--write", doc, "--json", json,
    ]);
    expect(code, stderr).toBe(0);
    const r = JSON.parse(readFileSync(json, "utf8")) as Results;

    expect(r.listed).toBeGreaterThan(1800);
    const [first] = r.first;
    expect(first!.rowsTotal).toBe(r.listed);
    expect(first!.rowsWritten).toBe(r.listed);
    expect(first!.inserted).toBe(r.listed);
    expect(first!.peakRssBytes).toBeGreaterThan(20 * 1048576);
    // Seeking costs a little over contacts / page size, never a multiple of it.
    expect(first!.requests).toBeGreaterThanOrEqual(Math.ceil(r.listed / 100));
    expect(first!.requests).toBeLessThan(1.5 * (r.listed / 100) + 10);

    expect(r.noChange[0]!.rowsWritten).toBe(0);
    // History: nothing on a first sync, nothing when nothing changed, one version per tracked change.
    expect(first!.historyTotal).toBe(0);
    expect(r.noChange[0]!.historyTotal).toBe(0);
    expect(r.noChangeReconcile[0]!.rowsWritten).toBe(0);
    expect(r.noChangeReconcile[0]!.historyTotal).toBe(0);
    expect(r.changed[0]!.historyTotal).toBe(r.changed[0]!.trackedChanges);
    expect(r.changed[0]!.rowsWritten).toBeGreaterThan(0);
    expect(r.changed[0]!.rowsWritten).toBeLessThanOrEqual(r.changedCount);
    if (r.copyMethod) expect(r.copy[0]!.rows).toBe(r.listed);
    expect(r.naive[0]!.rows).toBe(100);
    expect(r.latency.map((l) => l.concurrency)).toEqual(["1", "4"]);
    for (const l of r.latency) expect(l.measures[0]!.rowsWritten).toBe(l.measures[0]!.rowsTotal);

    expect(stdout).toContain("| 1 | first sync, no latency");
    expect(stdout).toContain("#### Against the targets");
    const written = readFileSync(doc, "utf8");
    expect(written).toContain(BEGIN);
    expect(written).toContain(END);
  }, 120_000);
});

describe("the report", () => {
  it("replaces only its own section of the Markdown file", () => {
    const before = `# Benchmarks\n\nintro\n\n${BEGIN}\nold table\n${END}\n\n## Analysis\nkept\n`;
    const after = replaceSection(before, "new table");
    expect(after).toContain("intro");
    expect(after).toContain("new table");
    expect(after).not.toContain("old table");
    expect(after).toContain("## Analysis\nkept");
    expect(replaceSection(after, "newer")).toBe(after.replace("new table", "newer"));
  });

  it("counts the requests one seek needs", () => {
    expect(seekRequests(0, 100)).toBe(1);
    expect(seekRequests(99, 100)).toBe(1);
    expect(seekRequests(100, 100)).toBe(2);
    expect(seekRequests(198, 100)).toBe(2);
    expect(seekRequests(199, 100)).toBe(3);
  });
});
