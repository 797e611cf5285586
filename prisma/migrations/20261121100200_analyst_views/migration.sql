-- contacts-sync: ready-made views for dashboards, and the indexes they and the obvious filters need.
-- docs/sql.md documents every view; test/sql/views.test.ts checks each one on a crafted data set.
--
-- Days are UTC days. `channel` is the contact's first platform, lower-cased ('whatsapp', 'website', ...,
-- 'unknown' when none), so that it sorts the same under every collation. Every view has the `account`
-- column: filter or group by it when one database mirrors several accounts.
--
-- CREATE INDEX (not CONCURRENTLY: migrations run in a transaction) holds a SHARE lock while it builds:
-- writes wait, readers do not. On a million contacts that is a few seconds, once, at upgrade time.

-- Live contacts: not marked deleted by a reconcile pass, and not in the inbox's own DELETED status.
CREATE VIEW "contacts_current" AS
SELECT
    "account", "id", "name", "email", "email_lower", "phone", "phone_raw", "phone_prefix", "phone_e164",
    "country", "tags", "segments", "attributes", "status",
    coalesce(lower("platforms"[1]), 'unknown') AS "channel",
    "platforms", "secondary_platforms",
    "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id",
    "is_online", "user_interacted", "is_subscriber", "is_live_chat_active", "has_ordered", "is_imported",
    "website_visits", "unread_messages", "last_message_by", "last_message_at", "bot_id", "customer_id",
    "last_seen_at", "created_at", "updated_at", "synced_at"
FROM "contacts"
WHERE "deleted_at" IS NULL AND "status" IS DISTINCT FROM 'DELETED';

COMMENT ON VIEW "contacts_current" IS
    'Live contacts (deleted_at is null and status is not DELETED), every typed column, no raw JSON. channel = first platform, lower-cased.';

-- New contacts per UTC day (by created_at) and channel.
CREATE VIEW "daily_new_contacts" AS
SELECT "account", ("created_at" AT TIME ZONE 'UTC')::date AS "day", "channel", count(*)::int AS "contacts"
FROM "contacts_current"
WHERE "created_at" IS NOT NULL
GROUP BY 1, 2, 3;

-- Contacts per UTC day of their latest activity (last_seen_at) and channel. The API keeps only the latest
-- activity, so a contact counts once, on the last day it was seen; see docs/sql.md.
CREATE VIEW "daily_active_contacts" AS
SELECT "account", ("last_seen_at" AT TIME ZONE 'UTC')::date AS "day", "channel", count(*)::int AS "contacts"
FROM "contacts_current"
WHERE "last_seen_at" IS NOT NULL
GROUP BY 1, 2, 3;

-- One row per contact and tag (a tag repeated in one contact counts once).
CREATE VIEW "contact_tags" AS
SELECT c."account", c."id" AS "contact_id", t."tag"
FROM "contacts_current" c
CROSS JOIN LATERAL (SELECT DISTINCT u AS "tag" FROM unnest(c."tags") AS u) t;

CREATE VIEW "contacts_by_tag" AS
SELECT "account", "tag", count(*)::int AS "contacts" FROM "contact_tags" GROUP BY 1, 2;

-- One row per contact and segment.
CREATE VIEW "contact_segments" AS
SELECT c."account", c."id" AS "contact_id", s."segment"
FROM "contacts_current" c
CROSS JOIN LATERAL (SELECT DISTINCT u AS "segment" FROM unnest(c."segments") AS u) s;

CREATE VIEW "contacts_by_segment" AS
SELECT "account", "segment", count(*)::int AS "contacts" FROM "contact_segments" GROUP BY 1, 2;

CREATE VIEW "contacts_by_status" AS
SELECT "account", "status", count(*)::int AS "contacts" FROM "contacts_current" GROUP BY 1, 2;

CREATE VIEW "contacts_by_country" AS
SELECT "account", "country", count(*)::int AS "contacts" FROM "contacts_current" GROUP BY 1, 2;

-- Activity per contact, relative to now(): cumulative flags (active within 1 / 7 / 30 days) and one
-- exclusive cohort for pie charts.
CREATE VIEW "contact_activity" AS
SELECT
    "account", "id" AS "contact_id", "channel", "last_seen_at", "user_interacted",
    coalesce("last_seen_at" >= now() - interval '1 day', false) AS "active_1d",
    coalesce("last_seen_at" >= now() - interval '7 days', false) AS "active_7d",
    coalesce("last_seen_at" >= now() - interval '30 days', false) AS "active_30d",
    CASE
        WHEN "user_interacted" IS NOT TRUE THEN 'never_interacted'
        WHEN "last_seen_at" >= now() - interval '1 day' THEN 'active_1d'
        WHEN "last_seen_at" >= now() - interval '7 days' THEN 'active_2_7d'
        WHEN "last_seen_at" >= now() - interval '30 days' THEN 'active_8_30d'
        ELSE 'dormant'
    END AS "cohort"
FROM "contacts_current";

CREATE VIEW "activity_cohorts" AS
SELECT "account", "cohort", count(*)::int AS "contacts" FROM "contact_activity" GROUP BY 1, 2;

-- Custom fields, one row per contact and attribute: value as text (strings unquoted, JSON null as NULL),
-- value_json as sent.
CREATE VIEW "contact_attributes" AS
SELECT c."account", c."id" AS "contact_id", a."key", a."value" #>> '{}' AS "value", a."value" AS "value_json"
FROM "contacts_current" c
CROSS JOIN LATERAL jsonb_each(c."attributes") AS a;

-- Filters dashboards use: tags @> ARRAY['vip'], segments && ARRAY[...], attributes @> '{"plan":"pro"}' or
-- attributes ? 'plan', date ranges, matching people by e-mail or phone.
CREATE INDEX "contacts_tags_idx" ON "contacts" USING gin ("tags");
CREATE INDEX "contacts_segments_idx" ON "contacts" USING gin ("segments");
CREATE INDEX "contacts_attributes_idx" ON "contacts" USING gin ("attributes");
CREATE INDEX "contacts_last_seen_at_idx" ON "contacts" ("last_seen_at");
CREATE INDEX "contacts_created_at_idx" ON "contacts" ("created_at");
CREATE INDEX "contacts_email_lower_idx" ON "contacts" ("email_lower");
CREATE INDEX "contacts_phone_e164_idx" ON "contacts" ("phone_e164");
