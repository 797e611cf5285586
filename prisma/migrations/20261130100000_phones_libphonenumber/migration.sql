-- contacts-sync: phones by libphonenumber-js (src/records/phone.ts) instead of a hand-made table of 25
-- calling codes, and the mapping version of each row.
--
-- Every row records the version of the mapping (MAPPING_VERSION in src/records/mapContact.ts) that derived
-- its typed columns from `raw`. Rows mirrored before this migration were derived by version 1; the worker
-- (after its passes) and `contacts-sync remap` re-derive them from `raw` in the background, in small
-- batches, with the Node mapping itself: no SQL copy of the rules, so the SQL copy of the phone rules goes.
--
-- Catalogue-only changes (nullable columns; a constant default recorded without a rewrite): the ACCESS
-- EXCLUSIVE lock is held for milliseconds. The lock timeout makes the migration fail rather than queue every
-- reader behind a long dashboard query; the next start tries again.
SET LOCAL lock_timeout = '30s';

ALTER TABLE "contacts"
    ADD COLUMN "phone_country"   TEXT,
    ADD COLUMN "phone_type"      TEXT,
    ADD COLUMN "mapping_version" INTEGER NOT NULL DEFAULT 1;
-- Existing rows keep 1; every write of the product states its version, and 0 marks a row written by hand
-- (re-derived like an old one).
ALTER TABLE "contacts" ALTER COLUMN "mapping_version" SET DEFAULT 0;

-- Finds the rows an older mapping wrote without reading the table; tiny once they are re-derived.
CREATE INDEX "contacts_mapping_version_idx" ON "contacts" ("account", "mapping_version");

DROP FUNCTION IF EXISTS contacts_sync.phone_columns(jsonb);
DROP FUNCTION IF EXISTS contacts_sync.phone_e164(text, text);
DROP FUNCTION IF EXISTS contacts_sync.phone_plans();

-- The new phone columns, at the end (CREATE OR REPLACE VIEW may only add columns there).
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
    "phone_country", "phone_type"
FROM "contacts"
WHERE "deleted_at" IS NULL AND "status" IS DISTINCT FROM 'DELETED';
