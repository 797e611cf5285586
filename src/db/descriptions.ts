// One source of truth for what every column and view of the mirror means. From it come:
// - the COMMENT ON statements of the migrations (BI tools, dbt and psql's \d+ read them from the database),
// - the column tables of docs/sql.md (between the "generated" markers),
// - docs/dbt/sources.yml (a dbt source with loaded_at_field and freshness).
// `npm run describe` writes the last two and prints the first; test/sql/descriptions.test.ts fails when the
// database, the docs or sources.yml drift from this file. A change here after release needs a new migration
// with the comments (`npm run describe -- --migration <folder>`).

export interface ColumnDoc {
  /** As docs/sql.md shows it (timestamptz for timestamp(3) with time zone). */
  type: string;
  meaning: string;
  /** Where a contacts column comes from in the API's contact (`raw`), or "(mirror)", "(setting)". */
  source?: string;
}

export interface RelationDoc {
  kind: "table" | "view";
  description: string;
  columns: Record<string, ColumnDoc>;
  /** dbt: the column that says when a row was last written, for source freshness. */
  loadedAt?: string;
}

/** The columns of `contacts`, in table order of docs/sql.md. */
export const CONTACT_COLUMN_DOCS: Record<string, ColumnDoc> = {
  account: { type: "text", meaning: "The `SYNC_ACCOUNT` the contact was mirrored under (`default` unless set).", source: "(setting)" },
  id: { type: "text", meaning: "The contact's id (24-hex ObjectId).", source: "`_id`" },
  name: { type: "text", meaning: "The best name available: the one the user gave, else the profile's.", source: "`profile.userDetails.userProvidedName`, else `.name`" },
  email: { type: "text", meaning: "E-mail address as sent (not trimmed, not validated: \"n/a\" happens).", source: "`profile.userDetails.contact.email`" },
  email_lower: { type: "text", meaning: "`email` trimmed, ASCII letters lower-cased: for matching and joins.", source: "(from `email`)" },
  phone: { type: "text", meaning: "`phone_e164` when known, else the number as sent with its prefix (`+49 4930123456`).", source: "(from the two below)" },
  phone_raw: { type: "text", meaning: "The number as sent (`098765 43210`).", source: "`profile.userDetails.contact.phone.number`" },
  phone_prefix: { type: "text", meaning: "The calling code as sent (`91`, `+44`).", source: "`profile.userDetails.contact.phone.prefix`" },
  phone_e164: { type: "text", meaning: "`+919876543210`, only when libphonenumber-js finds the number valid, read with its prefix, else the contact's country, else `DEFAULT_PHONE_REGION`; else NULL.", source: "(from the two above, and `country`)" },
  phone_country: { type: "text", meaning: "Region of a valid number, ISO 3166 (`IN`, `KE`); NULL when not valid or non-geographic (`+800`).", source: "(from `phone_e164`)" },
  phone_type: { type: "text", meaning: "`mobile`, `fixed_line`, `fixed_line_or_mobile`, `toll_free`, `voip`, \u2026 (libphonenumber-js); NULL when not valid.", source: "(from `phone_e164`)" },
  country: { type: "text", meaning: "Country as sent (`India`).", source: "`profile.userDetails.country`" },
  tags: { type: "text[]", meaning: "Tags as sent.", source: "`profile.userDetails.tags`" },
  segments: { type: "text[]", meaning: "Segment ids as sent.", source: "`segments`" },
  attributes: { type: "jsonb", meaning: "Custom fields as one object, `{\"plan\": \"pro\", \"age\": 31}`.", source: "`profile.userDetails.attributes` (a list of `{key, value}`)" },
  status: { type: "text", meaning: "Conversation status: `OPEN`, `INPROGRESS`, `REVIEW`, `ONHOLD`, `DEPENDANCY`, `CLOSED`, `DELETED`.", source: "`status`" },
  platforms: { type: "text[]", meaning: "Channels: `WHATSAPP`, `WEBSITE`, `TELEGRAM`, `FACEBOOK`, `INSTAGRAM`.", source: "`platform`" },
  secondary_platforms: { type: "text[]", meaning: "Other channels the contact was also seen on (`website`).", source: "`secondaryPlatform`" },
  whatsapp_number: { type: "text", meaning: "WhatsApp number as sent (digits with country code, no `+`).", source: "`profile.userDetails.whatsAppNumber`" },
  telegram_username: { type: "text", meaning: "Telegram user name.", source: "`profile.userDetails.telegramUserName`" },
  instagram_profile_id: { type: "text", meaning: "Instagram profile id.", source: "`profile.userDetails.instagramProfileId`" },
  facebook_profile_id: { type: "text", meaning: "Facebook profile id.", source: "`profile.userDetails.facebookProfileId`" },
  is_online: { type: "boolean", meaning: "Online right now (when last synced).", source: "`isOnline`" },
  user_interacted: { type: "boolean", meaning: "The contact wrote at least once (not only greeted by the bot).", source: "`userInteracted`" },
  is_subscriber: { type: "boolean", meaning: "Subscribed to broadcasts.", source: "`isSubscriber`" },
  is_live_chat_active: { type: "boolean", meaning: "A conversation with a human agent is open.", source: "`isLiveChatActive`" },
  has_ordered: { type: "boolean", meaning: "Has ordered (shop integrations).", source: "`hasOrdered.status` (or a bare boolean)" },
  is_imported: { type: "boolean", meaning: "Came from a bulk import rather than a conversation.", source: "`isImported`" },
  website_visits: { type: "integer", meaning: "Website visits counted by the widget.", source: "`websiteVisits`" },
  unread_messages: { type: "integer", meaning: "Messages the team has not read.", source: "`unreadMessages`" },
  last_message_by: { type: "text", meaning: "Who wrote last: `user`, `bot` or `agent`.", source: "`lastMessage.by`" },
  last_message_at: { type: "timestamptz", meaning: "When.", source: "`lastMessage.at`" },
  bot_id: { type: "text", meaning: "The bot (one per channel) the contact talks to.", source: "`_bot`" },
  customer_id: { type: "text", meaning: "The BotPenguin account.", source: "`_customer`" },
  last_seen_at: { type: "timestamptz", meaning: "Last activity.", source: "`lastSeenAt`" },
  created_at: { type: "timestamptz", meaning: "When the contact was created in the inbox.", source: "`createdAt`" },
  updated_at: { type: "timestamptz", meaning: "The API's last change to the contact.", source: "`updatedAt`" },
  mapping_version: { type: "integer", meaning: "The version of the mapping that derived the typed columns from `raw`; rows of an older version are re-derived in the background (`remap`).", source: "(mirror)" },
  raw: { type: "jsonb", meaning: "The contact exactly as sent (the NUL character, which PostgreSQL cannot store, becomes U+FFFD).", source: "the whole object" },
  synced_at: { type: "timestamptz", meaning: "When the mirror last wrote this row: its content changed, it was marked deleted or came back, or a newer mapping changed a typed column. Indexed: `WHERE synced_at > $last_load` is what an incremental model reads.", source: "(mirror)" },
  sync_run_id: { type: "bigint", meaning: "The run (`sync_runs.id`) that last wrote this row.", source: "(mirror)" },
  deleted_at: { type: "timestamptz", meaning: "Set when a complete reconcile pass no longer returned the contact; cleared when it comes back.", source: "(mirror)" },
  valid_from: { type: "timestamptz", meaning: "When the current version of the tracked fields (see `contact_changes`) became current: the insert, or the last change of a tracked field, deletion or restore. NULL: before the history was complete.", source: "(mirror)" },
  change_id: { type: "bigint", meaning: "The change (`contact_changes.change_id`) that made the current version; NULL like `valid_from`.", source: "(mirror)" },
};

const contact = (name: string): ColumnDoc => {
  const doc = CONTACT_COLUMN_DOCS[name];
  if (!doc) throw new Error(`no description of contacts.${name}`);
  return { type: doc.type, meaning: doc.meaning };
};

const ACCOUNT: ColumnDoc = { type: "text", meaning: "The `SYNC_ACCOUNT` the contact was mirrored under; filter or group by it when one database mirrors several accounts." };
const CONTACT_ID: ColumnDoc = { type: "text", meaning: "The contact (`contacts.id`)." };
const COUNT: ColumnDoc = { type: "integer", meaning: "Number of live contacts." };
const CHANNEL: ColumnDoc = { type: "text", meaning: "The contact's first platform, lower-cased: `whatsapp`, `website`, `telegram`, `facebook`, `instagram`, or `unknown`." };

const CURRENT_COLUMNS = [
  "account", "id", "name", "email", "email_lower", "phone", "phone_raw", "phone_prefix", "phone_e164", "country", "tags", "segments",
  "attributes", "status", "channel", "platforms", "secondary_platforms", "whatsapp_number", "telegram_username", "instagram_profile_id",
  "facebook_profile_id", "is_online", "user_interacted", "is_subscriber", "is_live_chat_active", "has_ordered", "is_imported",
  "website_visits", "unread_messages", "last_message_by", "last_message_at", "bot_id", "customer_id", "last_seen_at", "created_at",
  "updated_at", "synced_at", "phone_country", "phone_type", "mapping_version", "sync_run_id",
];

export const CONTACT_CHANGE_COLUMN_DOCS: Record<string, ColumnDoc> = {
  change_id: { type: "bigint", meaning: "Increasing id; orders changes seen at the same instant." },
  account: { type: "text", meaning: "The account of the contact." },
  contact_id: { type: "text", meaning: "The contact (`contacts.id`)." },
  kind: { type: "text", meaning: "`insert` (first seen), `update` (tracked fields changed), `delete` (`deleted_at` set), `restore` (`deleted_at` cleared)." },
  changes: { type: "jsonb", meaning: "`{\"status\": {\"old\": \"OPEN\", \"new\": \"CLOSED\"}, ...}`, one entry per tracked field that changed; on `insert`, every non-empty tracked field with `\"old\": null`." },
  seen_at: { type: "timestamptz", meaning: "When the mirror saw the change (the sync's transaction time, not the moment it happened in the inbox)." },
  source_updated_at: { type: "timestamptz", meaning: "The API's `updatedAt` of the new version: close to when it happened in the inbox (for a contact's latest change, its `updatedAt` now: untracked fields may have moved it since)." },
};

const TRACKED_VERSION_COLUMNS = [
  "name", "email", "phone", "country", "status", "tags", "segments", "attributes", "platforms", "secondary_platforms",
  "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id", "is_subscriber",
  "user_interacted", "has_ordered", "is_imported", "bot_id", "customer_id", "created_at", "deleted_at",
];

export const CONTACT_VERSION_COLUMN_DOCS: Record<string, ColumnDoc> = {
  account: { type: "text", meaning: "The account of the contact." },
  contact_id: { type: "text", meaning: "The contact (`contacts.id`)." },
  change_id: { type: "bigint", meaning: "The change that made this version current (`contact_changes.change_id`); NULL: before the history was complete." },
  valid_from: { type: "timestamptz", meaning: "When this version became current; NULL: before the history was complete." },
  valid_to: { type: "timestamptz", meaning: "When the next version replaced it (the `seen_at` of that change)." },
  superseded_by: { type: "bigint", meaning: "The change that ended this version (`contact_changes.change_id`)." },
  source_updated_at: { type: "timestamptz", meaning: "The API's `updatedAt` of this version." },
};

const change = (name: string): ColumnDoc => CONTACT_CHANGE_COLUMN_DOCS[name]!;

export const DESCRIPTIONS: Record<string, RelationDoc> = {
  contacts: {
    kind: "table",
    description: "One row per contact of an account, as last returned by the inbox API; typed columns derived from raw by the mapping of mapping_version. Includes contacts marked deleted (deleted_at).",
    columns: CONTACT_COLUMN_DOCS,
    loadedAt: "synced_at",
  },
  contact_changes: {
    kind: "view",
    description: "One row per insert, change of a tracked field, deletion or restore of a contact, as the mirror saw it (seen_at). Each version of a contact (contact_versions, and the contact's row for the current one) next to the version before it.",
    columns: CONTACT_CHANGE_COLUMN_DOCS,
    loadedAt: "seen_at",
  },
  contact_versions: {
    kind: "table",
    description: "Previous versions of the tracked fields of contacts, one per change: written when a tracked field changes or a contact is deleted or restored, never on insert (the current version is the row of contacts, from its valid_from).",
    columns: {
      ...CONTACT_VERSION_COLUMN_DOCS,
      ...Object.fromEntries(TRACKED_VERSION_COLUMNS.map((c) => [c, { type: CONTACT_COLUMN_DOCS[c]!.type, meaning: `${CONTACT_COLUMN_DOCS[c]!.meaning.replace(/\.$/, "")}, in this version.` }])),
    },
    loadedAt: "valid_to",
  },
  contact_history_state: {
    kind: "table",
    description: "One row: from which instant on contact_changes is complete (start of recording, moved forward by pruning). contacts_as_of() refuses earlier instants.",
    columns: {
      id: { type: "boolean", meaning: "Always true: the table has one row." },
      complete_since: { type: "timestamptz", meaning: "From this instant on, contact_changes holds every change (contact_versions every version that ended after it)." },
    },
  },
  contacts_current: {
    kind: "view",
    description: "Live contacts (deleted_at is null and status is not DELETED), every typed column, no raw JSON. channel = first platform, lower-cased.",
    columns: Object.fromEntries(CURRENT_COLUMNS.map((c) => [c, c === "channel" ? CHANNEL : c === "account" ? ACCOUNT : contact(c)])),
    loadedAt: "synced_at",
  },
  daily_new_contacts: {
    kind: "view",
    description: "New live contacts per UTC day of created_at and channel.",
    columns: { account: ACCOUNT, day: { type: "date", meaning: "UTC day of `created_at`." }, channel: CHANNEL, contacts: COUNT },
  },
  daily_active_contacts: {
    kind: "view",
    description: "Live contacts per UTC day of their latest activity (last_seen_at) and channel; a contact counts once, on the last day it was seen.",
    columns: { account: ACCOUNT, day: { type: "date", meaning: "UTC day of `last_seen_at`." }, channel: CHANNEL, contacts: COUNT },
  },
  contact_tags: {
    kind: "view",
    description: "One row per live contact and tag (a tag repeated in one contact counts once).",
    columns: { account: ACCOUNT, contact_id: CONTACT_ID, tag: { type: "text", meaning: "One tag of the contact." } },
  },
  contacts_by_tag: {
    kind: "view",
    description: "Live contacts per account and tag.",
    columns: { account: ACCOUNT, tag: { type: "text", meaning: "A tag." }, contacts: COUNT },
  },
  contact_segments: {
    kind: "view",
    description: "One row per live contact and segment.",
    columns: { account: ACCOUNT, contact_id: CONTACT_ID, segment: { type: "text", meaning: "One segment id of the contact." } },
  },
  contacts_by_segment: {
    kind: "view",
    description: "Live contacts per account and segment.",
    columns: { account: ACCOUNT, segment: { type: "text", meaning: "A segment id." }, contacts: COUNT },
  },
  contacts_by_status: {
    kind: "view",
    description: "Live contacts per account and conversation status.",
    columns: { account: ACCOUNT, status: contact("status"), contacts: COUNT },
  },
  contacts_by_country: {
    kind: "view",
    description: "Live contacts per account and country (as sent; NULL when unknown).",
    columns: { account: ACCOUNT, country: contact("country"), contacts: COUNT },
  },
  contact_activity: {
    kind: "view",
    description: "Activity of each live contact relative to now(): cumulative flags (active within 1, 7, 30 days) and one exclusive cohort.",
    columns: {
      account: ACCOUNT,
      contact_id: CONTACT_ID,
      channel: CHANNEL,
      last_seen_at: contact("last_seen_at"),
      user_interacted: contact("user_interacted"),
      active_1d: { type: "boolean", meaning: "Seen within the last day." },
      active_7d: { type: "boolean", meaning: "Seen within the last 7 days." },
      active_30d: { type: "boolean", meaning: "Seen within the last 30 days." },
      cohort: { type: "text", meaning: "`never_interacted`, `active_1d`, `active_2_7d`, `active_8_30d` or `dormant`." },
    },
  },
  activity_cohorts: {
    kind: "view",
    description: "Live contacts per account and activity cohort (see contact_activity).",
    columns: { account: ACCOUNT, cohort: { type: "text", meaning: "`never_interacted`, `active_1d`, `active_2_7d`, `active_8_30d` or `dormant`." }, contacts: COUNT },
  },
  contact_attributes: {
    kind: "view",
    description: "Custom fields, one row per live contact and attribute.",
    columns: {
      account: ACCOUNT,
      contact_id: CONTACT_ID,
      key: { type: "text", meaning: "The attribute's name." },
      value: { type: "text", meaning: "Its value as text (strings unquoted, JSON null as NULL)." },
      value_json: { type: "jsonb", meaning: "Its value as sent." },
    },
  },
  contact_field_changes: {
    kind: "view",
    description: "One row per changed field of contact_changes, for charts of one field over time.",
    columns: {
      change_id: change("change_id"),
      account: change("account"),
      contact_id: change("contact_id"),
      kind: change("kind"),
      seen_at: change("seen_at"),
      source_updated_at: change("source_updated_at"),
      field: { type: "text", meaning: "The tracked field that changed." },
      old_value: { type: "jsonb", meaning: "Its value before (JSON)." },
      new_value: { type: "jsonb", meaning: "Its value after (JSON)." },
      old_text: { type: "text", meaning: "Its value before, as text." },
      new_text: { type: "text", meaning: "Its value after, as text." },
    },
    loadedAt: "seen_at",
  },
};
