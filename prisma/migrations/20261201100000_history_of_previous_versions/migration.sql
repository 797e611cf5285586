-- contacts-sync: the contact history stored as a system-versioned (temporal) table stores it. The current
-- version of a contact is its row in `contacts`, with the instant it became current (`valid_from`) and the
-- change that made it so (`change_id`); `contact_versions` receives the previous version only when a tracked
-- field changes, or the contact is marked deleted or comes back. A first sync writes no history at all, an
-- unchanged re-sync writes nothing anywhere, a changed contact writes one version.
--
-- What analysts read keeps its meaning: `contact_changes` (now a view: each version next to the one before
-- it), `contact_field_changes` on top of it, and `contacts_as_of(t)` (now a plain range look-up). The tracked
-- fields are those of 20261121100300_contact_history, compared the same way (lists as sets).
--
-- The existing history is converted without loss: every change of contact_changes becomes a version boundary
-- with the same change_id, seen_at and old/new values (test/sql/historyConversion.test.ts compares
-- contact_changes and contacts_as_of() before and after on a database the previous migrations made). Changes
-- of rows no longer in `contacts` (rows removed by hand; the mirror itself only marks deletions) are not kept.
SET LOCAL lock_timeout = '30s';

-- The ids of changes go on from where contact_changes left them.
CREATE SEQUENCE "contact_change_id_seq";
SELECT setval('contact_change_id_seq', coalesce((SELECT max("change_id") FROM "contact_changes"), 0) + 1, false);

ALTER TABLE "contacts"
    ADD COLUMN "valid_from" TIMESTAMPTZ(3),
    ADD COLUMN "change_id"  BIGINT;

CREATE TABLE "contact_versions" (
    "account"              TEXT NOT NULL,
    "contact_id"           TEXT NOT NULL,
    "change_id"            BIGINT,
    "valid_from"           TIMESTAMPTZ(3),
    "valid_to"             TIMESTAMPTZ(3) NOT NULL,
    "superseded_by"        BIGINT NOT NULL,
    "source_updated_at"    TIMESTAMPTZ(3),
    "name"                 TEXT,
    "email"                TEXT,
    "phone"                TEXT,
    "country"              TEXT,
    "status"               TEXT,
    "tags"                 TEXT[] NOT NULL,
    "segments"             TEXT[] NOT NULL,
    "attributes"           JSONB,
    "platforms"            TEXT[] NOT NULL,
    "secondary_platforms"  TEXT[] NOT NULL,
    "whatsapp_number"      TEXT,
    "telegram_username"    TEXT,
    "instagram_profile_id" TEXT,
    "facebook_profile_id"  TEXT,
    "is_subscriber"        BOOLEAN,
    "user_interacted"      BOOLEAN,
    "has_ordered"          BOOLEAN,
    "is_imported"          BOOLEAN,
    "bot_id"               TEXT,
    "customer_id"          TEXT,
    "created_at"           TIMESTAMPTZ(3),
    "deleted_at"           TIMESTAMPTZ(3),

    CONSTRAINT "contact_versions_pkey" PRIMARY KEY ("superseded_by")
);
CREATE INDEX "contact_versions_contact_idx" ON "contact_versions" ("account", "contact_id", "valid_to");
CREATE INDEX "contact_versions_valid_to_idx" ON "contact_versions" ("valid_to");

-- Conversion. The version a change ended: the current tracked fields with each field put back to the `old`
-- value of its first change at or after that change (as contacts_as_of did); it began with the change before.
INSERT INTO "contact_versions" (
    "account", "contact_id", "change_id", "valid_from", "valid_to", "superseded_by", "source_updated_at",
    "name", "email", "phone", "country", "status", "tags", "segments", "attributes", "platforms", "secondary_platforms",
    "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id", "is_subscriber",
    "user_interacted", "has_ordered", "is_imported", "bot_id", "customer_id", "created_at", "deleted_at")
WITH ordered AS (
    SELECT ch.*,
           lag(ch."change_id") OVER w AS prev_id,
           lag(ch."seen_at") OVER w AS prev_seen,
           lag(ch."source_updated_at") OVER w AS prev_source
    FROM "contact_changes" ch
    WINDOW w AS (PARTITION BY ch."account", ch."contact_id" ORDER BY ch."seen_at", ch."change_id")
),
reverted AS (
    SELECT k."change_id", jsonb_object_agg(f.key, f.old_value) AS old_values
    FROM ordered k
    CROSS JOIN LATERAL (
        SELECT DISTINCT ON (e.key) e.key, e.value -> 'old' AS old_value
        FROM "contact_changes" l
        CROSS JOIN LATERAL jsonb_each(l."changes") AS e
        WHERE l."account" = k."account" AND l."contact_id" = k."contact_id"
          AND (l."seen_at", l."change_id") >= (k."seen_at", k."change_id")
        ORDER BY e.key, l."seen_at", l."change_id"
    ) f
    WHERE k."kind" <> 'insert'
    GROUP BY k."change_id"
)
SELECT k."account", k."contact_id", k.prev_id, k.prev_seen, k."seen_at", k."change_id", k.prev_source,
       s."name", s."email", s."phone", s."country", s."status", s."tags", s."segments", s."attributes", s."platforms",
       s."secondary_platforms", s."whatsapp_number", s."telegram_username", s."instagram_profile_id",
       s."facebook_profile_id", s."is_subscriber", s."user_interacted", s."has_ordered", s."is_imported",
       s."bot_id", s."customer_id", s."created_at", s."deleted_at"
FROM ordered k
JOIN reverted r ON r."change_id" = k."change_id"
JOIN "contacts" c ON c."account" = k."account" AND c."id" = k."contact_id"
CROSS JOIN LATERAL jsonb_to_record(contacts_sync.tracked_state(c) || r.old_values) AS s(
    "name" text, "email" text, "phone" text, "country" text, "status" text,
    "tags" text[], "segments" text[], "attributes" jsonb, "platforms" text[], "secondary_platforms" text[],
    "whatsapp_number" text, "telegram_username" text, "instagram_profile_id" text, "facebook_profile_id" text,
    "is_subscriber" boolean, "user_interacted" boolean, "has_ordered" boolean, "is_imported" boolean,
    "bot_id" text, "customer_id" text, "created_at" timestamptz, "deleted_at" timestamptz
);

-- The current version began with the contact's last change; a contact with none began before the history
-- was complete (valid_from and change_id stay NULL: "before contact_history_state.complete_since").
UPDATE "contacts" c SET "valid_from" = l."seen_at", "change_id" = l."change_id"
FROM (
    SELECT DISTINCT ON ("account", "contact_id") "account", "contact_id", "seen_at", "change_id"
    FROM "contact_changes"
    ORDER BY "account", "contact_id", "seen_at" DESC, "change_id" DESC
) l
WHERE c."account" = l."account" AND c."id" = l."contact_id";

-- From now on: a new contact's version begins when it is inserted, with a change id of its own.
ALTER TABLE "contacts"
    ALTER COLUMN "valid_from" SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN "change_id" SET DEFAULT nextval('contact_change_id_seq');
ALTER SEQUENCE "contact_change_id_seq" OWNED BY "contacts"."change_id";

DROP TRIGGER "contacts_record_inserts" ON "contacts";
DROP TRIGGER "contacts_record_updates" ON "contacts";
DROP VIEW "contact_field_changes";
DROP TABLE "contact_changes";
DROP FUNCTION contacts_sync.record_inserts();
DROP FUNCTION contacts_sync.record_updates();

-- Before a row of contacts is updated: when a tracked field differs (lists as sets), the row as it was goes
-- to contact_versions and the new row starts a version. Only updates pay (inserts have no trigger), and only
-- rows the upsert actually rewrites (its raw changed, or it comes back) reach it.
CREATE FUNCTION "contacts_keep_previous_version"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    next_id bigint;
BEGIN
    IF ROW(OLD."name", OLD."email", OLD."phone", OLD."country", OLD."status", OLD."attributes", OLD."whatsapp_number",
           OLD."telegram_username", OLD."instagram_profile_id", OLD."facebook_profile_id", OLD."is_subscriber",
           OLD."user_interacted", OLD."has_ordered", OLD."is_imported", OLD."bot_id", OLD."customer_id",
           OLD."created_at", OLD."deleted_at")
       IS NOT DISTINCT FROM
       ROW(NEW."name", NEW."email", NEW."phone", NEW."country", NEW."status", NEW."attributes", NEW."whatsapp_number",
           NEW."telegram_username", NEW."instagram_profile_id", NEW."facebook_profile_id", NEW."is_subscriber",
           NEW."user_interacted", NEW."has_ordered", NEW."is_imported", NEW."bot_id", NEW."customer_id",
           NEW."created_at", NEW."deleted_at")
       AND coalesce(OLD."tags" @> NEW."tags" AND NEW."tags" @> OLD."tags", OLD."tags" IS NOT DISTINCT FROM NEW."tags")
       AND coalesce(OLD."segments" @> NEW."segments" AND NEW."segments" @> OLD."segments", OLD."segments" IS NOT DISTINCT FROM NEW."segments")
       AND coalesce(OLD."platforms" @> NEW."platforms" AND NEW."platforms" @> OLD."platforms", OLD."platforms" IS NOT DISTINCT FROM NEW."platforms")
       AND coalesce(OLD."secondary_platforms" @> NEW."secondary_platforms" AND NEW."secondary_platforms" @> OLD."secondary_platforms",
                    OLD."secondary_platforms" IS NOT DISTINCT FROM NEW."secondary_platforms")
    THEN
        -- No tracked change: the version goes on, whatever else the update changes.
        RETURN NEW;
    END IF;
    next_id := nextval('contact_change_id_seq');
    INSERT INTO "contact_versions" (
        "account", "contact_id", "change_id", "valid_from", "valid_to", "superseded_by", "source_updated_at",
        "name", "email", "phone", "country", "status", "tags", "segments", "attributes", "platforms", "secondary_platforms",
        "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id", "is_subscriber",
        "user_interacted", "has_ordered", "is_imported", "bot_id", "customer_id", "created_at", "deleted_at")
    VALUES (
        OLD."account", OLD."id", OLD."change_id", OLD."valid_from", CURRENT_TIMESTAMP, next_id, OLD."updated_at",
        OLD."name", OLD."email", OLD."phone", OLD."country", OLD."status", OLD."tags", OLD."segments", OLD."attributes",
        OLD."platforms", OLD."secondary_platforms", OLD."whatsapp_number", OLD."telegram_username",
        OLD."instagram_profile_id", OLD."facebook_profile_id", OLD."is_subscriber", OLD."user_interacted",
        OLD."has_ordered", OLD."is_imported", OLD."bot_id", OLD."customer_id", OLD."created_at", OLD."deleted_at");
    NEW."valid_from" := CURRENT_TIMESTAMP;
    NEW."change_id" := next_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER "contacts_keep_previous_version"
    BEFORE UPDATE ON "contacts"
    FOR EACH ROW EXECUTE FUNCTION "contacts_keep_previous_version"();

-- Every version next to the one before it (found by superseded_by): the changes as they were recorded before.
-- A version with no version before it is the contact's insert. Versions that began before the history is
-- complete (pruned, or before recording began) are not changes anyone can describe: left out.
CREATE VIEW "contact_changes" AS
SELECT v."change_id", v."account", v."contact_id",
       CASE
           WHEN p."superseded_by" IS NULL THEN 'insert'
           WHEN p."deleted_at" IS NULL AND v."deleted_at" IS NOT NULL THEN 'delete'
           WHEN p."deleted_at" IS NOT NULL AND v."deleted_at" IS NULL THEN 'restore'
           ELSE 'update'
       END AS "kind",
       CASE WHEN p."superseded_by" IS NULL THEN
              contacts_sync.added('name', to_jsonb(v."name"))
           || contacts_sync.added('email', to_jsonb(v."email"))
           || contacts_sync.added('phone', to_jsonb(v."phone"))
           || contacts_sync.added('country', to_jsonb(v."country"))
           || contacts_sync.added('status', to_jsonb(v."status"))
           || contacts_sync.added('tags', to_jsonb(v."tags"))
           || contacts_sync.added('segments', to_jsonb(v."segments"))
           || contacts_sync.added('attributes', v."attributes")
           || contacts_sync.added('platforms', to_jsonb(v."platforms"))
           || contacts_sync.added('secondary_platforms', to_jsonb(v."secondary_platforms"))
           || contacts_sync.added('whatsapp_number', to_jsonb(v."whatsapp_number"))
           || contacts_sync.added('telegram_username', to_jsonb(v."telegram_username"))
           || contacts_sync.added('instagram_profile_id', to_jsonb(v."instagram_profile_id"))
           || contacts_sync.added('facebook_profile_id', to_jsonb(v."facebook_profile_id"))
           || contacts_sync.added('is_subscriber', to_jsonb(v."is_subscriber"))
           || contacts_sync.added('user_interacted', to_jsonb(v."user_interacted"))
           || contacts_sync.added('has_ordered', to_jsonb(v."has_ordered"))
           || contacts_sync.added('is_imported', to_jsonb(v."is_imported"))
           || contacts_sync.added('bot_id', to_jsonb(v."bot_id"))
           || contacts_sync.added('customer_id', to_jsonb(v."customer_id"))
           || contacts_sync.added('created_at', to_jsonb(contacts_sync.iso(v."created_at")))
           || contacts_sync.added('deleted_at', to_jsonb(contacts_sync.iso(v."deleted_at")))
       ELSE
              contacts_sync.changed('name', to_jsonb(p."name"), to_jsonb(v."name"))
           || contacts_sync.changed('email', to_jsonb(p."email"), to_jsonb(v."email"))
           || contacts_sync.changed('phone', to_jsonb(p."phone"), to_jsonb(v."phone"))
           || contacts_sync.changed('country', to_jsonb(p."country"), to_jsonb(v."country"))
           || contacts_sync.changed('status', to_jsonb(p."status"), to_jsonb(v."status"))
           || contacts_sync.changed_set('tags', p."tags", v."tags")
           || contacts_sync.changed_set('segments', p."segments", v."segments")
           || contacts_sync.changed('attributes', p."attributes", v."attributes")
           || contacts_sync.changed_set('platforms', p."platforms", v."platforms")
           || contacts_sync.changed_set('secondary_platforms', p."secondary_platforms", v."secondary_platforms")
           || contacts_sync.changed('whatsapp_number', to_jsonb(p."whatsapp_number"), to_jsonb(v."whatsapp_number"))
           || contacts_sync.changed('telegram_username', to_jsonb(p."telegram_username"), to_jsonb(v."telegram_username"))
           || contacts_sync.changed('instagram_profile_id', to_jsonb(p."instagram_profile_id"), to_jsonb(v."instagram_profile_id"))
           || contacts_sync.changed('facebook_profile_id', to_jsonb(p."facebook_profile_id"), to_jsonb(v."facebook_profile_id"))
           || contacts_sync.changed('is_subscriber', to_jsonb(p."is_subscriber"), to_jsonb(v."is_subscriber"))
           || contacts_sync.changed('user_interacted', to_jsonb(p."user_interacted"), to_jsonb(v."user_interacted"))
           || contacts_sync.changed('has_ordered', to_jsonb(p."has_ordered"), to_jsonb(v."has_ordered"))
           || contacts_sync.changed('is_imported', to_jsonb(p."is_imported"), to_jsonb(v."is_imported"))
           || contacts_sync.changed('bot_id', to_jsonb(p."bot_id"), to_jsonb(v."bot_id"))
           || contacts_sync.changed('customer_id', to_jsonb(p."customer_id"), to_jsonb(v."customer_id"))
           || contacts_sync.changed('created_at', to_jsonb(contacts_sync.iso(p."created_at")), to_jsonb(contacts_sync.iso(v."created_at")))
           || contacts_sync.changed('deleted_at', to_jsonb(contacts_sync.iso(p."deleted_at")), to_jsonb(contacts_sync.iso(v."deleted_at")))
       END AS "changes",
       v."valid_from" AS "seen_at",
       v."source_updated_at"
FROM (
    SELECT c."account", c."id" AS "contact_id", c."change_id", c."valid_from", c."updated_at" AS "source_updated_at",
           c."name", c."email", c."phone", c."country", c."status", c."tags", c."segments", c."attributes", c."platforms",
           c."secondary_platforms", c."whatsapp_number", c."telegram_username", c."instagram_profile_id",
           c."facebook_profile_id", c."is_subscriber", c."user_interacted", c."has_ordered", c."is_imported",
           c."bot_id", c."customer_id", c."created_at", c."deleted_at"
    FROM "contacts" c
    UNION ALL
    SELECT h."account", h."contact_id", h."change_id", h."valid_from", h."source_updated_at",
           h."name", h."email", h."phone", h."country", h."status", h."tags", h."segments", h."attributes", h."platforms",
           h."secondary_platforms", h."whatsapp_number", h."telegram_username", h."instagram_profile_id",
           h."facebook_profile_id", h."is_subscriber", h."user_interacted", h."has_ordered", h."is_imported",
           h."bot_id", h."customer_id", h."created_at", h."deleted_at"
    FROM "contact_versions" h
) v
LEFT JOIN "contact_versions" p ON p."superseded_by" = v."change_id"
WHERE v."valid_from" >= (SELECT s."complete_since" FROM "contact_history_state" s);

-- As in 20261121100300_contact_history.
CREATE VIEW "contact_field_changes" AS
SELECT ch."change_id", ch."account", ch."contact_id", ch."kind", ch."seen_at", ch."source_updated_at",
       f.key AS "field", f.value -> 'old' AS "old_value", f.value -> 'new' AS "new_value",
       f.value -> 'old' #>> '{}' AS "old_text", f.value -> 'new' #>> '{}' AS "new_text"
FROM "contact_changes" ch
CROSS JOIN LATERAL jsonb_each(ch."changes") AS f;

-- The version of every contact current at `as_of`: the row of contacts if it began by then, else the
-- previous version whose range holds `as_of`. Contacts first inserted after `as_of` have neither.
CREATE OR REPLACE FUNCTION contacts_as_of(as_of timestamptz)
RETURNS TABLE (
    "account" text, "id" text, "name" text, "email" text, "phone" text, "country" text, "status" text,
    "tags" text[], "segments" text[], "attributes" jsonb, "platforms" text[], "secondary_platforms" text[],
    "whatsapp_number" text, "telegram_username" text, "instagram_profile_id" text, "facebook_profile_id" text,
    "is_subscriber" boolean, "user_interacted" boolean, "has_ordered" boolean, "is_imported" boolean,
    "bot_id" text, "customer_id" text, "created_at" timestamptz, "deleted_at" timestamptz
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    since timestamptz;
BEGIN
    SELECT s."complete_since" INTO since FROM "contact_history_state" s;
    IF as_of IS NULL OR as_of < since THEN
        RAISE EXCEPTION 'contacts_as_of(%): the history is complete only from % on', as_of, since
            USING HINT = 'Earlier changes were pruned (HISTORY_RETENTION) or happened before history was recorded; ask for a later instant.';
    END IF;
    RETURN QUERY
    SELECT c."account", c."id", c."name", c."email", c."phone", c."country", c."status", c."tags", c."segments",
           c."attributes", c."platforms", c."secondary_platforms", c."whatsapp_number", c."telegram_username",
           c."instagram_profile_id", c."facebook_profile_id", c."is_subscriber", c."user_interacted", c."has_ordered",
           c."is_imported", c."bot_id", c."customer_id", c."created_at", c."deleted_at"
    FROM "contacts" c
    WHERE c."valid_from" IS NULL OR c."valid_from" <= as_of
    UNION ALL
    SELECT h."account", h."contact_id", h."name", h."email", h."phone", h."country", h."status", h."tags", h."segments",
           h."attributes", h."platforms", h."secondary_platforms", h."whatsapp_number", h."telegram_username",
           h."instagram_profile_id", h."facebook_profile_id", h."is_subscriber", h."user_interacted", h."has_ordered",
           h."is_imported", h."bot_id", h."customer_id", h."created_at", h."deleted_at"
    FROM "contact_versions" h
    WHERE (h."valid_from" IS NULL OR h."valid_from" <= as_of) AND h."valid_to" > as_of;
END
$$;

COMMENT ON FUNCTION contacts_as_of(timestamptz) IS
    'Tracked fields of every contact as the mirror knew them at the given instant (deleted ones included, with deleted_at).';
