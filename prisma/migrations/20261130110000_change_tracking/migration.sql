-- contacts-sync: change tracking that incremental dbt models (and any "since last time" query) can rely on.
--
-- `synced_at` is set by every write of a row: an upsert that changed it, a restore, a deletion (from this
-- release on; before, marking a contact deleted left synced_at alone), and a re-derivation by a newer
-- mapping that changed a typed column. Indexed, so `WHERE synced_at > $last` reads only what changed.
-- `sync_run_id` names the run (sync_runs.id) that last wrote the row; NULL for rows not written since.
SET LOCAL lock_timeout = '30s';

ALTER TABLE "contacts" ADD COLUMN "sync_run_id" BIGINT;

-- Deletions made before this release did not move synced_at: move it now, so that a downstream model that
-- starts from here sees them (few rows: deleted contacts).
UPDATE "contacts" SET "synced_at" = "deleted_at" WHERE "deleted_at" > "synced_at";

CREATE INDEX "contacts_synced_at_idx" ON "contacts" ("synced_at");

-- contacts_current shows every column of contacts but raw and deleted_at: the new bookkeeping ones too.
CREATE OR REPLACE VIEW "contacts_current" AS
SELECT
    "account", "id", "name", "email", "email_lower", "phone", "phone_raw", "phone_prefix", "phone_e164",
    "country", "tags", "segments", "attributes", "status",
    coalesce(lower("platforms"[1]), 'unknown') AS "channel",
    "platforms", "secondary_platforms",
    "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id",
    "is_online", "user_interacted", "is_subscriber", "is_live_chat_active", "has_ordered", "is_imported",
    "website_visits", "unread_messages", "last_message_by", "last_message_at", "bot_id", "customer_id",
    "last_seen_at", "created_at", "updated_at", "synced_at",
    "phone_country", "phone_type", "mapping_version", "sync_run_id"
FROM "contacts"
WHERE "deleted_at" IS NULL AND "status" IS DISTINCT FROM 'DELETED';
