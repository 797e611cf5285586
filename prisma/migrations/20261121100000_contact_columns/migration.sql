-- contacts-sync: typed columns read from `raw`, so that analysts never parse JSON by hand.
--
-- Readers are never blocked for long: every column is nullable or has a constant default, which PostgreSQL
-- (11 and later) records in the catalogue without rewriting the table, so ALTER TABLE holds its ACCESS
-- EXCLUSIVE lock for milliseconds. The back-fill of existing rows is the next migration, in a transaction of
-- its own, so it runs under ordinary row locks that readers do not wait for.
--
-- If a long-running query (a BI dashboard) holds the table, ALTER TABLE would wait for it and make every
-- new reader queue behind it; the lock timeout makes the migration fail instead (rolled back, nothing
-- changed), and the next `contacts-sync migrate` (or sync) tries again.
SET LOCAL lock_timeout = '30s';

ALTER TABLE "contacts"
    ADD COLUMN "email_lower"          TEXT,
    ADD COLUMN "phone_raw"            TEXT,
    ADD COLUMN "phone_prefix"         TEXT,
    ADD COLUMN "phone_e164"           TEXT,
    ADD COLUMN "country"              TEXT,
    ADD COLUMN "attributes"           JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN "secondary_platforms"  TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    ADD COLUMN "whatsapp_number"      TEXT,
    ADD COLUMN "telegram_username"    TEXT,
    ADD COLUMN "instagram_profile_id" TEXT,
    ADD COLUMN "facebook_profile_id"  TEXT,
    ADD COLUMN "is_online"            BOOLEAN,
    ADD COLUMN "user_interacted"      BOOLEAN,
    ADD COLUMN "is_subscriber"        BOOLEAN,
    ADD COLUMN "is_live_chat_active"  BOOLEAN,
    ADD COLUMN "has_ordered"          BOOLEAN,
    ADD COLUMN "is_imported"          BOOLEAN,
    ADD COLUMN "website_visits"       INTEGER,
    ADD COLUMN "unread_messages"      INTEGER,
    ADD COLUMN "last_message_by"      TEXT,
    ADD COLUMN "last_message_at"      TIMESTAMPTZ(3),
    ADD COLUMN "bot_id"               TEXT,
    ADD COLUMN "customer_id"          TEXT;
