// A fresh, migrated database per test (or per file), on the run's PostgreSQL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { openDatabase, type Database } from "../../src/db/client.js";
import { migrate } from "../../src/db/migrate.js";
import { DEFAULT_SCHEMA } from "../../src/db/schema.js";
import { quietLogger } from "./logs.js";

export interface TestDatabase extends Database {
  name: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject("pgAdminUrl");
}

export function urlForDatabase(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `searchPath`: the database's default search_path is the mirror's schema (contacts_sync), as an analyst's
 * login would have it (docs/sql.md), so that the tests' own clients may name tables unqualified. The product
 * sets its own on every connection; test/integration/schema.test.ts passes false to prove it needs no help.
 */
export async function createDatabase(options: { migrate?: boolean; searchPath?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  if (options.searchPath !== false) await admin.query(`alter database ${name} set search_path to ${DEFAULT_SCHEMA}`);
  await admin.end();
  const url = urlForDatabase(name);
  const db = openDatabase(url);
  if (options.migrate !== false) await migrate(db.pool, quietLogger());
  return {
    ...db,
    name,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
