// A fresh, migrated database per test (or per file), on the run's PostgreSQL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { openDatabase, type Database } from "../../src/db/client.js";
import { migrate } from "../../src/db/migrate.js";
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

export async function createDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
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
