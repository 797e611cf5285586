-- Every page's upsert looks up which of its contacts were marked deleted (to count restores). Without an
-- index PostgreSQL plans that as a scan of the account's contacts while the table is small (measured: ~40 us
-- per row of a first sync, docs/benchmarks.md). Deleted contacts are few, so this partial index is tiny.
CREATE INDEX IF NOT EXISTS "contacts_deleted_idx" ON "contacts" ("account", "id") WHERE "deleted_at" IS NOT NULL;
