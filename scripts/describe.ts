// Writes what src/db/descriptions.ts generates: the column tables of docs/sql.md, docs/dbt/sources.yml, and
// the migration with the COMMENT ON statements (default: the one that introduced them; after a release,
// give a new folder: `npm run describe -- --migration 20270101000000_describe_again`).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DESCRIBE_MIGRATION, commentsSql, renderSqlDoc, sourcesYml } from "../src/db/describe.js";

const { values } = parseArgs({ options: { migration: { type: "string", default: DESCRIBE_MIGRATION } } });
const root = new URL("../", import.meta.url);
const sqlDoc = new URL("docs/sql.md", root);
writeFileSync(sqlDoc, renderSqlDoc(readFileSync(sqlDoc, "utf8")));
mkdirSync(new URL("docs/dbt/", root), { recursive: true });
writeFileSync(new URL("docs/dbt/sources.yml", root), sourcesYml());
const dir = new URL(`prisma/migrations/${values.migration}/`, root);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL("migration.sql", dir), commentsSql());
process.stdout.write(`wrote docs/sql.md, docs/dbt/sources.yml, prisma/migrations/${values.migration}/migration.sql\n`);
