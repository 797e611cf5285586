-- contacts-sync: history of the contacts that matter to dashboards ("VIP contacts over time", "how long
-- contacts stay OPEN"), written by triggers in the same transaction as the upsert that caused it.
--
-- The engine rewrites a contact only when its `raw` changed (or it comes back after a deletion), and a
-- reconcile pass marks vanished contacts with `deleted_at`; the triggers below turn each such write into
-- one `contact_changes` row, and only when a tracked field differs. Activity fields that move with every
-- conversation (last_seen_at, updated_at, is_online, is_live_chat_active, unread_messages, website_visits,
-- last_message_*) are deliberately not tracked: they would turn the history into an activity log.
-- Derived columns (email_lower, phone_raw/prefix/e164) follow email and phone.
--
-- Statement-level triggers with transition tables: one INSERT ... SELECT per upsert statement, whatever the
-- page size, instead of one trigger call per row.

CREATE TABLE "contact_changes" (
    "change_id"         BIGSERIAL NOT NULL,
    "account"           TEXT NOT NULL,
    "contact_id"        TEXT NOT NULL,
    "kind"              TEXT NOT NULL,
    "changes"           JSONB NOT NULL,
    "seen_at"           TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source_updated_at" TIMESTAMPTZ(3),

    CONSTRAINT "contact_changes_pkey" PRIMARY KEY ("change_id"),
    CONSTRAINT "contact_changes_kind_check" CHECK ("kind" IN ('insert', 'update', 'delete', 'restore'))
);

CREATE INDEX "contact_changes_contact_idx" ON "contact_changes" ("account", "contact_id", "seen_at");
CREATE INDEX "contact_changes_seen_at_idx" ON "contact_changes" ("seen_at");

COMMENT ON TABLE "contact_changes" IS
    'One row per insert, change of a tracked field, deletion or restore of a contact, as the mirror saw it (seen_at).';
COMMENT ON COLUMN "contact_changes"."changes" IS
    '{"field": {"old": ..., "new": ...}} for each tracked field that changed; on insert, every non-empty tracked field with old null.';

-- From which instant on the history is complete: when it started to be recorded, moved forward by pruning.
-- contacts_as_of() refuses earlier instants rather than answer them wrongly.
CREATE TABLE "contact_history_state" (
    "id"             BOOLEAN NOT NULL DEFAULT true,
    "complete_since" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contact_history_state_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "contact_history_state_single_row" CHECK ("id")
);
INSERT INTO "contact_history_state" ("id", "complete_since") VALUES (true, CURRENT_TIMESTAMP);

-- UTC ISO text, so that stored instants do not depend on the writer's TimeZone setting.
CREATE OR REPLACE FUNCTION contacts_sync.iso(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The three small builders below are plain expressions that PostgreSQL inlines into the trigger queries (no
-- function call, no sub-query per row: an initial sync writes a million inserts through them). They are
-- STABLE, like jsonb_build_object, because a function declared stricter than its body is not inlined.

-- One field of an insert: {key: {"old": null, "new": v}}, or {} when v is empty (null, [] or {}).
CREATE OR REPLACE FUNCTION contacts_sync.added(key text, v jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL OR v IN ('null'::jsonb, '[]'::jsonb, '{}'::jsonb) THEN '{}'::jsonb
                ELSE jsonb_build_object(key, jsonb_build_object('old', NULL, 'new', v)) END
$$;

-- One field of an update: {key: {"old": o, "new": n}} when they differ, else {}.
CREATE OR REPLACE FUNCTION contacts_sync.changed(key text, o jsonb, n jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN o IS NOT DISTINCT FROM n THEN '{}'::jsonb
                ELSE jsonb_build_object(key, jsonb_build_object('old', o, 'new', n)) END
$$;

-- Lists whose order means nothing (tags, segments, platforms): a change only when the sets differ, so a
-- reordering or a repeated entry is no change. Stored as sent.
CREATE OR REPLACE FUNCTION contacts_sync.changed_set(key text, o text[], n text[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN o @> n AND n @> o THEN '{}'::jsonb
                ELSE jsonb_build_object(key, jsonb_build_object('old', to_jsonb(o), 'new', to_jsonb(n))) END
$$;

-- THE TRACKED FIELDS. They are listed three times below (insert, update, state for contacts_as_of); keep
-- the lists equal when adding one (a new migration). test/sql/history.test.ts changes each field alone
-- and checks that exactly that field is recorded.

CREATE OR REPLACE FUNCTION contacts_sync.record_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "contact_changes" ("account", "contact_id", "kind", "changes", "source_updated_at")
    SELECT n."account", n."id", 'insert',
           contacts_sync.added('name', to_jsonb(n."name"))
        || contacts_sync.added('email', to_jsonb(n."email"))
        || contacts_sync.added('phone', to_jsonb(n."phone"))
        || contacts_sync.added('country', to_jsonb(n."country"))
        || contacts_sync.added('status', to_jsonb(n."status"))
        || contacts_sync.added('tags', to_jsonb(n."tags"))
        || contacts_sync.added('segments', to_jsonb(n."segments"))
        || contacts_sync.added('attributes', n."attributes")
        || contacts_sync.added('platforms', to_jsonb(n."platforms"))
        || contacts_sync.added('secondary_platforms', to_jsonb(n."secondary_platforms"))
        || contacts_sync.added('whatsapp_number', to_jsonb(n."whatsapp_number"))
        || contacts_sync.added('telegram_username', to_jsonb(n."telegram_username"))
        || contacts_sync.added('instagram_profile_id', to_jsonb(n."instagram_profile_id"))
        || contacts_sync.added('facebook_profile_id', to_jsonb(n."facebook_profile_id"))
        || contacts_sync.added('is_subscriber', to_jsonb(n."is_subscriber"))
        || contacts_sync.added('user_interacted', to_jsonb(n."user_interacted"))
        || contacts_sync.added('has_ordered', to_jsonb(n."has_ordered"))
        || contacts_sync.added('is_imported', to_jsonb(n."is_imported"))
        || contacts_sync.added('bot_id', to_jsonb(n."bot_id"))
        || contacts_sync.added('customer_id', to_jsonb(n."customer_id"))
        || contacts_sync.added('created_at', to_jsonb(contacts_sync.iso(n."created_at")))
        || contacts_sync.added('deleted_at', to_jsonb(contacts_sync.iso(n."deleted_at"))),
           n."updated_at"
    FROM new_rows n;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION contacts_sync.record_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "contact_changes" ("account", "contact_id", "kind", "changes", "source_updated_at")
    SELECT d."account", d."id",
           CASE
               WHEN d.was_deleted IS NULL AND d.is_deleted IS NOT NULL THEN 'delete'
               WHEN d.was_deleted IS NOT NULL AND d.is_deleted IS NULL THEN 'restore'
               ELSE 'update'
           END,
           d.changes, d."updated_at"
    FROM (
        SELECT n."account", n."id", n."updated_at", o."deleted_at" AS was_deleted, n."deleted_at" AS is_deleted,
               contacts_sync.changed('name', to_jsonb(o."name"), to_jsonb(n."name"))
            || contacts_sync.changed('email', to_jsonb(o."email"), to_jsonb(n."email"))
            || contacts_sync.changed('phone', to_jsonb(o."phone"), to_jsonb(n."phone"))
            || contacts_sync.changed('country', to_jsonb(o."country"), to_jsonb(n."country"))
            || contacts_sync.changed('status', to_jsonb(o."status"), to_jsonb(n."status"))
            || contacts_sync.changed_set('tags', o."tags", n."tags")
            || contacts_sync.changed_set('segments', o."segments", n."segments")
            || contacts_sync.changed('attributes', o."attributes", n."attributes")
            || contacts_sync.changed_set('platforms', o."platforms", n."platforms")
            || contacts_sync.changed_set('secondary_platforms', o."secondary_platforms", n."secondary_platforms")
            || contacts_sync.changed('whatsapp_number', to_jsonb(o."whatsapp_number"), to_jsonb(n."whatsapp_number"))
            || contacts_sync.changed('telegram_username', to_jsonb(o."telegram_username"), to_jsonb(n."telegram_username"))
            || contacts_sync.changed('instagram_profile_id', to_jsonb(o."instagram_profile_id"), to_jsonb(n."instagram_profile_id"))
            || contacts_sync.changed('facebook_profile_id', to_jsonb(o."facebook_profile_id"), to_jsonb(n."facebook_profile_id"))
            || contacts_sync.changed('is_subscriber', to_jsonb(o."is_subscriber"), to_jsonb(n."is_subscriber"))
            || contacts_sync.changed('user_interacted', to_jsonb(o."user_interacted"), to_jsonb(n."user_interacted"))
            || contacts_sync.changed('has_ordered', to_jsonb(o."has_ordered"), to_jsonb(n."has_ordered"))
            || contacts_sync.changed('is_imported', to_jsonb(o."is_imported"), to_jsonb(n."is_imported"))
            || contacts_sync.changed('bot_id', to_jsonb(o."bot_id"), to_jsonb(n."bot_id"))
            || contacts_sync.changed('customer_id', to_jsonb(o."customer_id"), to_jsonb(n."customer_id"))
            || contacts_sync.changed('created_at', to_jsonb(contacts_sync.iso(o."created_at")), to_jsonb(contacts_sync.iso(n."created_at")))
            || contacts_sync.changed('deleted_at', to_jsonb(contacts_sync.iso(o."deleted_at")), to_jsonb(contacts_sync.iso(n."deleted_at")))
               AS changes
        FROM old_rows o
        JOIN new_rows n ON n."account" = o."account" AND n."id" = o."id"
    ) d
    WHERE d.changes <> '{}'::jsonb;
    RETURN NULL;
END
$$;

-- The tracked fields of a contact as one object, for contacts_as_of().
CREATE OR REPLACE FUNCTION contacts_sync.tracked_state(c "contacts") RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'name', c."name",
        'email', c."email",
        'phone', c."phone",
        'country', c."country",
        'status', c."status",
        'tags', c."tags",
        'segments', c."segments",
        'attributes', c."attributes",
        'platforms', c."platforms",
        'secondary_platforms', c."secondary_platforms",
        'whatsapp_number', c."whatsapp_number",
        'telegram_username', c."telegram_username",
        'instagram_profile_id', c."instagram_profile_id",
        'facebook_profile_id', c."facebook_profile_id",
        'is_subscriber', c."is_subscriber",
        'user_interacted', c."user_interacted",
        'has_ordered', c."has_ordered",
        'is_imported', c."is_imported",
        'bot_id', c."bot_id",
        'customer_id', c."customer_id",
        'created_at', contacts_sync.iso(c."created_at"),
        'deleted_at', contacts_sync.iso(c."deleted_at"))
$$;

CREATE TRIGGER "contacts_record_inserts"
    AFTER INSERT ON "contacts" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_sync.record_inserts();

CREATE TRIGGER "contacts_record_updates"
    AFTER UPDATE ON "contacts" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_sync.record_updates();

-- One row per changed field, for charts of one field over time (status transitions, tags gained...).
CREATE VIEW "contact_field_changes" AS
SELECT ch."change_id", ch."account", ch."contact_id", ch."kind", ch."seen_at", ch."source_updated_at",
       f.key AS "field", f.value -> 'old' AS "old_value", f.value -> 'new' AS "new_value",
       f.value -> 'old' #>> '{}' AS "old_text", f.value -> 'new' #>> '{}' AS "new_text"
FROM "contact_changes" ch
CROSS JOIN LATERAL jsonb_each(ch."changes") AS f;

-- The tracked fields of every contact as the mirror knew them at `as_of`: the current row, with each field
-- put back to the `old` value of its first change after `as_of`; contacts first inserted after `as_of` are
-- left out. Rows include contacts deleted by then (deleted_at set): filter them as needed.
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
    WITH first_after AS (
        SELECT DISTINCT ON (ch."account", ch."contact_id", f.key)
               ch."account", ch."contact_id", f.key, f.value -> 'old' AS old_value
        FROM "contact_changes" ch
        CROSS JOIN LATERAL jsonb_each(ch."changes") AS f
        WHERE ch."seen_at" > as_of AND ch."kind" <> 'insert'
        ORDER BY ch."account", ch."contact_id", f.key, ch."seen_at", ch."change_id"
    ),
    reverted AS (
        SELECT fa."account", fa."contact_id", jsonb_object_agg(fa.key, fa.old_value) AS old_values
        FROM first_after fa GROUP BY fa."account", fa."contact_id"
    )
    SELECT s.*
    FROM "contacts" c
    LEFT JOIN reverted r ON r."account" = c."account" AND r."contact_id" = c."id"
    CROSS JOIN LATERAL jsonb_to_record(
        jsonb_build_object('account', c."account", 'id', c."id")
        || contacts_sync.tracked_state(c)
        || coalesce(r.old_values, '{}'::jsonb)
    ) AS s(
        "account" text, "id" text, "name" text, "email" text, "phone" text, "country" text, "status" text,
        "tags" text[], "segments" text[], "attributes" jsonb, "platforms" text[], "secondary_platforms" text[],
        "whatsapp_number" text, "telegram_username" text, "instagram_profile_id" text, "facebook_profile_id" text,
        "is_subscriber" boolean, "user_interacted" boolean, "has_ordered" boolean, "is_imported" boolean,
        "bot_id" text, "customer_id" text, "created_at" timestamptz, "deleted_at" timestamptz
    )
    WHERE NOT EXISTS (
        SELECT 1 FROM "contact_changes" ins
        WHERE ins."account" = c."account" AND ins."contact_id" = c."id" AND ins."kind" = 'insert' AND ins."seen_at" > as_of
    );
END
$$;

COMMENT ON FUNCTION contacts_as_of(timestamptz) IS
    'Tracked fields of every contact as the mirror knew them at the given instant (deleted ones included, with deleted_at).';
