-- contacts-sync: fills the typed columns of rows mirrored before they existed, from `raw`.
--
-- New rows get their columns from mapContact() (src/records/mapContact.ts) on every upsert. The functions
-- below are the same rules in SQL, so that this back-fill gives exactly what mapContact() would; they stay
-- in the schema `contacts_sync` for later migrations that turn another field of `raw` into a column.
-- test/sql/backfill.test.ts upgrades a database through this migration and compares every column with
-- mapContact(). Known differences, both outside what the API sends: a number of 1e21 or more (or below
-- 1e-6) in a text field is written out in full here and in exponent form by JavaScript.
--
-- Runs in its own transaction, after the columns exist: ordinary row locks, readers are not blocked.

CREATE SCHEMA IF NOT EXISTS contacts_sync;
COMMENT ON SCHEMA contacts_sync IS
    'contacts-sync internals: the mapping rules of src/records/mapContact.ts in SQL, history triggers. Nothing here is a table.';

-- text(): a string as sent, null when blank (JavaScript''s trim() whitespace); numbers and booleans as text.
CREATE OR REPLACE FUNCTION contacts_sync.json_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'string' THEN CASE
            WHEN (v #>> '{}') ~ '^[\u0009-\u000D\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]*$' THEN NULL
            ELSE v #>> '{}' END
        WHEN 'number' THEN v #>> '{}'
        WHEN 'boolean' THEN v #>> '{}'
    END
$$;

-- textList(): scalar entries as text, objects by name (else _id); a lone scalar is a list of one.
CREATE OR REPLACE FUNCTION contacts_sync.json_text_list(v jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) = 'array' THEN coalesce((
            SELECT array_agg(l.t ORDER BY l.ord)
            FROM (
                SELECT coalesce(contacts_sync.json_text(x.e), contacts_sync.json_text(x.e -> 'name'), contacts_sync.json_text(x.e -> '_id')) AS t, x.ord
                FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, ord)
            ) l
            WHERE l.t IS NOT NULL), ARRAY[]::text[])
        WHEN contacts_sync.json_text(v) IS NULL THEN ARRAY[]::text[]
        ELSE ARRAY[contacts_sync.json_text(v)]
    END
$$;

-- bool(): JSON true/false only.
CREATE OR REPLACE FUNCTION contacts_sync.json_bool(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN (v #>> '{}')::boolean END
$$;

-- count(): whole JSON numbers within integer range.
CREATE OR REPLACE FUNCTION contacts_sync.json_count(v jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN
        CASE WHEN (v #>> '{}')::numeric = trunc((v #>> '{}')::numeric)
                  AND (v #>> '{}')::numeric BETWEEN -2147483648 AND 2147483647
             THEN (v #>> '{}')::numeric::integer END
    END
$$;

-- instant(): ISO-8601 with a zone, a bare date (midnight UTC) or epoch milliseconds, 1970..9999.
CREATE OR REPLACE FUNCTION contacts_sync.json_instant(v jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    m text[];
    ms numeric;
    y int; mo int; d int; h int; mi int; s int; oh int; om int;
BEGIN
    IF jsonb_typeof(v) = 'number' THEN
        ms := trunc((v #>> '{}')::numeric);
    ELSIF jsonb_typeof(v) = 'string' THEN
        m := regexp_match(v #>> '{}',
            '^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(?:Z|([+-])([0-9]{2}):([0-9]{2})))?$');
        IF m IS NULL THEN RETURN NULL; END IF;
        y := m[1]::int; mo := m[2]::int; d := m[3]::int;
        h := coalesce(m[4], '0')::int; mi := coalesce(m[5], '0')::int; s := coalesce(m[6], '0')::int;
        IF y < 1970 OR mo < 1 OR mo > 12 OR d < 1
           OR d > extract(day FROM make_date(y, mo, 1) + interval '1 month' - interval '1 day') THEN
            RETURN NULL;
        END IF;
        IF h > 23 OR mi > 59 OR s > 59 THEN RETURN NULL; END IF;
        ms := (make_date(y, mo, d) - date '1970-01-01')::numeric * 86400000
              + h * 3600000 + mi * 60000 + s * 1000 + substr(coalesce(m[7], '') || '000', 1, 3)::int;
        IF m[8] IS NOT NULL THEN
            oh := m[9]::int; om := m[10]::int;
            IF oh > 23 OR om > 59 THEN RETURN NULL; END IF;
            ms := ms - (CASE m[8] WHEN '-' THEN -1 ELSE 1 END) * (oh * 60 + om) * 60000;
        END IF;
    ELSE
        RETURN NULL;
    END IF;
    IF ms < 0 OR ms > 253402300799999 THEN RETURN NULL; END IF;
    RETURN timestamptz '1970-01-01 00:00:00+00' + ms::bigint * interval '1 millisecond';
END
$$;

-- attributeMap(): [{key, value}] -> {key: value}; keyless entries skipped, last one wins; objects as they are.
CREATE OR REPLACE FUNCTION contacts_sync.json_attributes(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'object' THEN v
        WHEN 'array' THEN coalesce((
            SELECT jsonb_object_agg(a.k, a.val ORDER BY a.ord)
            FROM (
                SELECT contacts_sync.json_text(x.e -> 'key') AS k, coalesce(x.e -> 'value', 'null'::jsonb) AS val, x.ord
                FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, ord)
                WHERE jsonb_typeof(x.e) = 'object'
            ) a
            WHERE a.k IS NOT NULL), '{}'::jsonb)
        ELSE '{}'::jsonb
    END
$$;

-- emailLower(): trimmed, ASCII letters lower-cased (independent of the database's locale).
CREATE OR REPLACE FUNCTION contacts_sync.email_lower(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT translate(
        regexp_replace(email,
            '^[\u0009-\u000D\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]+|[\u0009-\u000D\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]+$',
            '', 'g'),
        'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
$$;

-- PHONE_PLANS: calling code, trunk prefix, national significant number.
CREATE OR REPLACE FUNCTION contacts_sync.phone_plans() RETURNS TABLE (cc text, trunk text, nsn text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
        ('1',   '1',  '^[2-9][0-9]{2}[2-9][0-9]{6}$'),
        ('7',   '8',  '^[3489][0-9]{9}$'),
        ('20',  '0',  '^[1-9][0-9]{7,9}$'),
        ('27',  '0',  '^[1-8][0-9]{8}$'),
        ('31',  '0',  '^[1-9][0-9]{8}$'),
        ('33',  '0',  '^[1-9][0-9]{8}$'),
        ('34',  NULL, '^[5-9][0-9]{8}$'),
        ('39',  NULL, '^(0[0-9]{5,10}|3[0-9]{8,9})$'),
        ('44',  '0',  '^[1-9][0-9]{8,9}$'),
        ('49',  '0',  '^[1-9][0-9]{5,12}$'),
        ('52',  NULL, '^[1-9][0-9]{9}$'),
        ('55',  '0',  '^[1-9][0-9]{9,10}$'),
        ('60',  '0',  '^[1-9][0-9]{7,9}$'),
        ('61',  '0',  '^[2-478][0-9]{8}$'),
        ('62',  '0',  '^[1-9][0-9]{7,11}$'),
        ('63',  '0',  '^[2-9][0-9]{8,9}$'),
        ('65',  NULL, '^[689][0-9]{7}$'),
        ('81',  '0',  '^[1-9][0-9]{8,9}$'),
        ('86',  '0',  '^[1-9][0-9]{9,10}$'),
        ('91',  '0',  '^[1-9][0-9]{9}$'),
        ('92',  '0',  '^[1-9][0-9]{8,9}$'),
        ('234', '0',  '^[1-9][0-9]{7,9}$'),
        ('880', '0',  '^[1-9][0-9]{7,9}$'),
        ('966', '0',  '^[1-9][0-9]{7,8}$'),
        ('971', '0',  '^[1-9][0-9]{7,8}$')
$$;

-- phoneE164(): E.164 when exactly one reading of prefix + number fits a known plan, else null.
CREATE OR REPLACE FUNCTION contacts_sync.phone_e164(prefix text, number text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    digits text;
    code text;
    national text;
    international boolean := false;
    plan_trunk text;
    plan_nsn text;
    readings text[];
    valid text[];
BEGIN
    IF number IS NULL THEN RETURN NULL; END IF;
    digits := regexp_replace(number, '[ \t\u00A0()./-]', '', 'g');
    IF left(digits, 1) = '+' THEN
        international := true; digits := substr(digits, 2);
    ELSIF left(digits, 2) = '00' THEN
        international := true; digits := substr(digits, 3);
    END IF;
    IF digits !~ '^[0-9]+$' THEN RETURN NULL; END IF;

    code := regexp_replace(prefix, '[ \t\u00A0()+-]', '', 'g');
    IF left(code, 2) = '00' THEN code := substr(code, 3); END IF;
    IF code = '' THEN code := NULL; END IF;
    IF code IS NOT NULL AND code !~ '^[0-9]{1,3}$' THEN RETURN NULL; END IF;

    IF international THEN
        SELECT p.cc INTO plan_trunk FROM contacts_sync.phone_plans() p
        WHERE p.cc IN (left(digits, 1), left(digits, 2), left(digits, 3)) LIMIT 1;
        IF plan_trunk IS NULL OR (code IS NOT NULL AND code <> plan_trunk) THEN RETURN NULL; END IF;
        code := plan_trunk;
        national := substr(digits, length(code) + 1);
    ELSE
        IF code IS NULL THEN RETURN NULL; END IF;
        national := digits;
    END IF;

    SELECT p.trunk, p.nsn INTO plan_trunk, plan_nsn FROM contacts_sync.phone_plans() p WHERE p.cc = code;
    IF plan_nsn IS NULL THEN RETURN NULL; END IF;

    readings := ARRAY[national];
    IF plan_trunk IS NOT NULL AND left(national, length(plan_trunk)) = plan_trunk THEN
        readings := readings || substr(national, length(plan_trunk) + 1);
    END IF;
    -- The country code typed again in the number ("91 98765 43210" with prefix "91").
    IF NOT international AND left(national, length(code)) = code THEN
        readings := readings || substr(national, length(code) + 1);
    END IF;
    SELECT array_agg(DISTINCT r) INTO valid FROM unnest(readings) AS r WHERE r ~ plan_nsn;
    IF coalesce(array_length(valid, 1), 0) = 1 THEN RETURN '+' || code || valid[1]; END IF;
    RETURN NULL;
END
$$;

-- phoneColumns(): phone (E.164 when known, else as sent), phone_raw, phone_prefix, phone_e164.
CREATE OR REPLACE FUNCTION contacts_sync.phone_columns(p jsonb, OUT phone text, OUT phone_raw text, OUT phone_prefix text, OUT phone_e164 text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF jsonb_typeof(p) = 'object' THEN
        phone_raw := contacts_sync.json_text(p -> 'number');
        phone_prefix := contacts_sync.json_text(p -> 'prefix');
    ELSE
        phone_raw := contacts_sync.json_text(p);
        phone_prefix := NULL;
    END IF;
    phone_e164 := contacts_sync.phone_e164(phone_prefix, phone_raw);
    phone := CASE
        WHEN phone_e164 IS NOT NULL THEN phone_e164
        WHEN phone_raw IS NULL OR phone_prefix IS NULL THEN phone_raw
        ELSE CASE WHEN left(phone_prefix, 1) = '+' THEN '' ELSE '+' END || phone_prefix || ' ' || phone_raw
    END;
END
$$;

-- Every mapped column, as mapContact() computes it. Rows are rewritten once here (they all gain values).
UPDATE "contacts" SET
    "name" = coalesce(contacts_sync.json_text("raw" #> '{profile,userDetails,userProvidedName}'),
                      contacts_sync.json_text("raw" #> '{profile,userDetails,name}')),
    "email" = contacts_sync.json_text("raw" #> '{profile,userDetails,contact,email}'),
    "email_lower" = contacts_sync.email_lower(contacts_sync.json_text("raw" #> '{profile,userDetails,contact,email}')),
    ("phone", "phone_raw", "phone_prefix", "phone_e164") =
        (SELECT pc.phone, pc.phone_raw, pc.phone_prefix, pc.phone_e164
         FROM contacts_sync.phone_columns("raw" #> '{profile,userDetails,contact,phone}') pc),
    "country" = contacts_sync.json_text("raw" #> '{profile,userDetails,country}'),
    "tags" = contacts_sync.json_text_list("raw" #> '{profile,userDetails,tags}'),
    "segments" = contacts_sync.json_text_list("raw" -> 'segments'),
    "attributes" = contacts_sync.json_attributes("raw" #> '{profile,userDetails,attributes}'),
    "status" = contacts_sync.json_text("raw" -> 'status'),
    "platforms" = contacts_sync.json_text_list("raw" -> 'platform'),
    "secondary_platforms" = contacts_sync.json_text_list("raw" -> 'secondaryPlatform'),
    "whatsapp_number" = contacts_sync.json_text("raw" #> '{profile,userDetails,whatsAppNumber}'),
    "telegram_username" = contacts_sync.json_text("raw" #> '{profile,userDetails,telegramUserName}'),
    "instagram_profile_id" = contacts_sync.json_text("raw" #> '{profile,userDetails,instagramProfileId}'),
    "facebook_profile_id" = contacts_sync.json_text("raw" #> '{profile,userDetails,facebookProfileId}'),
    "is_online" = contacts_sync.json_bool("raw" -> 'isOnline'),
    "user_interacted" = contacts_sync.json_bool("raw" -> 'userInteracted'),
    "is_subscriber" = contacts_sync.json_bool("raw" -> 'isSubscriber'),
    "is_live_chat_active" = contacts_sync.json_bool("raw" -> 'isLiveChatActive'),
    "has_ordered" = coalesce(contacts_sync.json_bool("raw" #> '{hasOrdered,status}'), contacts_sync.json_bool("raw" -> 'hasOrdered')),
    "is_imported" = contacts_sync.json_bool("raw" -> 'isImported'),
    "website_visits" = contacts_sync.json_count("raw" -> 'websiteVisits'),
    "unread_messages" = contacts_sync.json_count("raw" -> 'unreadMessages'),
    "last_message_by" = contacts_sync.json_text("raw" #> '{lastMessage,by}'),
    "last_message_at" = contacts_sync.json_instant("raw" #> '{lastMessage,at}'),
    "bot_id" = contacts_sync.json_text("raw" -> '_bot'),
    "customer_id" = contacts_sync.json_text("raw" -> '_customer'),
    "last_seen_at" = contacts_sync.json_instant("raw" -> 'lastSeenAt'),
    "created_at" = contacts_sync.json_instant("raw" -> 'createdAt'),
    "updated_at" = contacts_sync.json_instant("raw" -> 'updatedAt');
