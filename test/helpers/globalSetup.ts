// One real PostgreSQL for the whole test run: TEST_DATABASE_URL when given (a server whose user may create
// databases), otherwise an embedded one in a temporary folder. Each test file makes its own databases.
import type { TestProject } from "vitest/node";
import { startThrowawayPostgres } from "../../src/db/embedded.js";

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
  const server = await startThrowawayPostgres({
    label: "test",
    password: "test",
    // Tests make many short-lived databases; fsync buys nothing here.
    flags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
  });
  project.provide("pgAdminUrl", server.url);
  return server.stop;
}
