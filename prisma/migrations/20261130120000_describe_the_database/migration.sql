-- contacts-sync: descriptions of every table, view and column analysts read, for BI tools, dbt and psql's \d+.
-- GENERATED from src/db/descriptions.ts by `npm run describe`; do not edit by hand.

COMMENT ON TABLE "contacts" IS 'One row per contact of an account, as last returned by the inbox API; typed columns derived from raw by the mapping of mapping_version. Includes contacts marked deleted (deleted_at).';
COMMENT ON COLUMN "contacts"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under (default unless set).';
COMMENT ON COLUMN "contacts"."id" IS 'The contact''s id (24-hex ObjectId). From the API: _id.';
COMMENT ON COLUMN "contacts"."name" IS 'The best name available: the one the user gave, else the profile''s. From the API: profile.userDetails.userProvidedName, else .name.';
COMMENT ON COLUMN "contacts"."email" IS 'E-mail address as sent (not trimmed, not validated: "n/a" happens). From the API: profile.userDetails.contact.email.';
COMMENT ON COLUMN "contacts"."email_lower" IS 'email trimmed, ASCII letters lower-cased: for matching and joins.';
COMMENT ON COLUMN "contacts"."phone" IS 'phone_e164 when known, else the number as sent with its prefix (+49 4930123456).';
COMMENT ON COLUMN "contacts"."phone_raw" IS 'The number as sent (098765 43210). From the API: profile.userDetails.contact.phone.number.';
COMMENT ON COLUMN "contacts"."phone_prefix" IS 'The calling code as sent (91, +44). From the API: profile.userDetails.contact.phone.prefix.';
COMMENT ON COLUMN "contacts"."phone_e164" IS '+919876543210, only when libphonenumber-js finds the number valid, read with its prefix, else the contact''s country, else DEFAULT_PHONE_REGION; else NULL.';
COMMENT ON COLUMN "contacts"."phone_country" IS 'Region of a valid number, ISO 3166 (IN, KE); NULL when not valid or non-geographic (+800).';
COMMENT ON COLUMN "contacts"."phone_type" IS 'mobile, fixed_line, fixed_line_or_mobile, toll_free, voip, … (libphonenumber-js); NULL when not valid.';
COMMENT ON COLUMN "contacts"."country" IS 'Country as sent (India). From the API: profile.userDetails.country.';
COMMENT ON COLUMN "contacts"."tags" IS 'Tags as sent. From the API: profile.userDetails.tags.';
COMMENT ON COLUMN "contacts"."segments" IS 'Segment ids as sent. From the API: segments.';
COMMENT ON COLUMN "contacts"."attributes" IS 'Custom fields as one object, {"plan": "pro", "age": 31}. From the API: profile.userDetails.attributes (a list of {key, value}).';
COMMENT ON COLUMN "contacts"."status" IS 'Conversation status: OPEN, INPROGRESS, REVIEW, ONHOLD, DEPENDANCY, CLOSED, DELETED. From the API: status.';
COMMENT ON COLUMN "contacts"."platforms" IS 'Channels: WHATSAPP, WEBSITE, TELEGRAM, FACEBOOK, INSTAGRAM. From the API: platform.';
COMMENT ON COLUMN "contacts"."secondary_platforms" IS 'Other channels the contact was also seen on (website). From the API: secondaryPlatform.';
COMMENT ON COLUMN "contacts"."whatsapp_number" IS 'WhatsApp number as sent (digits with country code, no +). From the API: profile.userDetails.whatsAppNumber.';
COMMENT ON COLUMN "contacts"."telegram_username" IS 'Telegram user name. From the API: profile.userDetails.telegramUserName.';
COMMENT ON COLUMN "contacts"."instagram_profile_id" IS 'Instagram profile id. From the API: profile.userDetails.instagramProfileId.';
COMMENT ON COLUMN "contacts"."facebook_profile_id" IS 'Facebook profile id. From the API: profile.userDetails.facebookProfileId.';
COMMENT ON COLUMN "contacts"."is_online" IS 'Online right now (when last synced). From the API: isOnline.';
COMMENT ON COLUMN "contacts"."user_interacted" IS 'The contact wrote at least once (not only greeted by the bot). From the API: userInteracted.';
COMMENT ON COLUMN "contacts"."is_subscriber" IS 'Subscribed to broadcasts. From the API: isSubscriber.';
COMMENT ON COLUMN "contacts"."is_live_chat_active" IS 'A conversation with a human agent is open. From the API: isLiveChatActive.';
COMMENT ON COLUMN "contacts"."has_ordered" IS 'Has ordered (shop integrations). From the API: hasOrdered.status (or a bare boolean).';
COMMENT ON COLUMN "contacts"."is_imported" IS 'Came from a bulk import rather than a conversation. From the API: isImported.';
COMMENT ON COLUMN "contacts"."website_visits" IS 'Website visits counted by the widget. From the API: websiteVisits.';
COMMENT ON COLUMN "contacts"."unread_messages" IS 'Messages the team has not read. From the API: unreadMessages.';
COMMENT ON COLUMN "contacts"."last_message_by" IS 'Who wrote last: user, bot or agent. From the API: lastMessage.by.';
COMMENT ON COLUMN "contacts"."last_message_at" IS 'When. From the API: lastMessage.at.';
COMMENT ON COLUMN "contacts"."bot_id" IS 'The bot (one per channel) the contact talks to. From the API: _bot.';
COMMENT ON COLUMN "contacts"."customer_id" IS 'The BotPenguin account. From the API: _customer.';
COMMENT ON COLUMN "contacts"."last_seen_at" IS 'Last activity. From the API: lastSeenAt.';
COMMENT ON COLUMN "contacts"."created_at" IS 'When the contact was created in the inbox. From the API: createdAt.';
COMMENT ON COLUMN "contacts"."updated_at" IS 'The API''s last change to the contact. From the API: updatedAt.';
COMMENT ON COLUMN "contacts"."mapping_version" IS 'The version of the mapping that derived the typed columns from raw; rows of an older version are re-derived in the background (remap).';
COMMENT ON COLUMN "contacts"."raw" IS 'The contact exactly as sent (the NUL character, which PostgreSQL cannot store, becomes U+FFFD). From the API: the whole object.';
COMMENT ON COLUMN "contacts"."synced_at" IS 'When the mirror last wrote this row: its content changed, it was marked deleted or came back, or a newer mapping changed a typed column. Indexed: WHERE synced_at > $last_load is what an incremental model reads.';
COMMENT ON COLUMN "contacts"."sync_run_id" IS 'The run (sync_runs.id) that last wrote this row.';
COMMENT ON COLUMN "contacts"."deleted_at" IS 'Set when a complete reconcile pass no longer returned the contact; cleared when it comes back.';

COMMENT ON TABLE "contact_changes" IS 'One row per insert, change of a tracked field, deletion or restore of a contact, as the mirror saw it (seen_at).';
COMMENT ON COLUMN "contact_changes"."change_id" IS 'Increasing id; orders changes seen at the same instant.';
COMMENT ON COLUMN "contact_changes"."account" IS 'The account of the contact.';
COMMENT ON COLUMN "contact_changes"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_changes"."kind" IS 'insert (first seen), update (tracked fields changed), delete (deleted_at set), restore (deleted_at cleared).';
COMMENT ON COLUMN "contact_changes"."changes" IS '{"status": {"old": "OPEN", "new": "CLOSED"}, ...}, one entry per tracked field that changed; on insert, every non-empty tracked field with "old": null.';
COMMENT ON COLUMN "contact_changes"."seen_at" IS 'When the mirror saw the change (the sync''s transaction time, not the moment it happened in the inbox).';
COMMENT ON COLUMN "contact_changes"."source_updated_at" IS 'The API''s updatedAt of the new version: close to when it happened in the inbox.';

COMMENT ON TABLE "contact_history_state" IS 'One row: from which instant on contact_changes is complete (start of recording, moved forward by pruning). contacts_as_of() refuses earlier instants.';
COMMENT ON COLUMN "contact_history_state"."id" IS 'Always true: the table has one row.';
COMMENT ON COLUMN "contact_history_state"."complete_since" IS 'From this instant on, contact_changes holds every change.';

COMMENT ON VIEW "contacts_current" IS 'Live contacts (deleted_at is null and status is not DELETED), every typed column, no raw JSON. channel = first platform, lower-cased.';
COMMENT ON COLUMN "contacts_current"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contacts_current"."id" IS 'The contact''s id (24-hex ObjectId).';
COMMENT ON COLUMN "contacts_current"."name" IS 'The best name available: the one the user gave, else the profile''s.';
COMMENT ON COLUMN "contacts_current"."email" IS 'E-mail address as sent (not trimmed, not validated: "n/a" happens).';
COMMENT ON COLUMN "contacts_current"."email_lower" IS 'email trimmed, ASCII letters lower-cased: for matching and joins.';
COMMENT ON COLUMN "contacts_current"."phone" IS 'phone_e164 when known, else the number as sent with its prefix (+49 4930123456).';
COMMENT ON COLUMN "contacts_current"."phone_raw" IS 'The number as sent (098765 43210).';
COMMENT ON COLUMN "contacts_current"."phone_prefix" IS 'The calling code as sent (91, +44).';
COMMENT ON COLUMN "contacts_current"."phone_e164" IS '+919876543210, only when libphonenumber-js finds the number valid, read with its prefix, else the contact''s country, else DEFAULT_PHONE_REGION; else NULL.';
COMMENT ON COLUMN "contacts_current"."country" IS 'Country as sent (India).';
COMMENT ON COLUMN "contacts_current"."tags" IS 'Tags as sent.';
COMMENT ON COLUMN "contacts_current"."segments" IS 'Segment ids as sent.';
COMMENT ON COLUMN "contacts_current"."attributes" IS 'Custom fields as one object, {"plan": "pro", "age": 31}.';
COMMENT ON COLUMN "contacts_current"."status" IS 'Conversation status: OPEN, INPROGRESS, REVIEW, ONHOLD, DEPENDANCY, CLOSED, DELETED.';
COMMENT ON COLUMN "contacts_current"."channel" IS 'The contact''s first platform, lower-cased: whatsapp, website, telegram, facebook, instagram, or unknown.';
COMMENT ON COLUMN "contacts_current"."platforms" IS 'Channels: WHATSAPP, WEBSITE, TELEGRAM, FACEBOOK, INSTAGRAM.';
COMMENT ON COLUMN "contacts_current"."secondary_platforms" IS 'Other channels the contact was also seen on (website).';
COMMENT ON COLUMN "contacts_current"."whatsapp_number" IS 'WhatsApp number as sent (digits with country code, no +).';
COMMENT ON COLUMN "contacts_current"."telegram_username" IS 'Telegram user name.';
COMMENT ON COLUMN "contacts_current"."instagram_profile_id" IS 'Instagram profile id.';
COMMENT ON COLUMN "contacts_current"."facebook_profile_id" IS 'Facebook profile id.';
COMMENT ON COLUMN "contacts_current"."is_online" IS 'Online right now (when last synced).';
COMMENT ON COLUMN "contacts_current"."user_interacted" IS 'The contact wrote at least once (not only greeted by the bot).';
COMMENT ON COLUMN "contacts_current"."is_subscriber" IS 'Subscribed to broadcasts.';
COMMENT ON COLUMN "contacts_current"."is_live_chat_active" IS 'A conversation with a human agent is open.';
COMMENT ON COLUMN "contacts_current"."has_ordered" IS 'Has ordered (shop integrations).';
COMMENT ON COLUMN "contacts_current"."is_imported" IS 'Came from a bulk import rather than a conversation.';
COMMENT ON COLUMN "contacts_current"."website_visits" IS 'Website visits counted by the widget.';
COMMENT ON COLUMN "contacts_current"."unread_messages" IS 'Messages the team has not read.';
COMMENT ON COLUMN "contacts_current"."last_message_by" IS 'Who wrote last: user, bot or agent.';
COMMENT ON COLUMN "contacts_current"."last_message_at" IS 'When.';
COMMENT ON COLUMN "contacts_current"."bot_id" IS 'The bot (one per channel) the contact talks to.';
COMMENT ON COLUMN "contacts_current"."customer_id" IS 'The BotPenguin account.';
COMMENT ON COLUMN "contacts_current"."last_seen_at" IS 'Last activity.';
COMMENT ON COLUMN "contacts_current"."created_at" IS 'When the contact was created in the inbox.';
COMMENT ON COLUMN "contacts_current"."updated_at" IS 'The API''s last change to the contact.';
COMMENT ON COLUMN "contacts_current"."synced_at" IS 'When the mirror last wrote this row: its content changed, it was marked deleted or came back, or a newer mapping changed a typed column. Indexed: WHERE synced_at > $last_load is what an incremental model reads.';
COMMENT ON COLUMN "contacts_current"."phone_country" IS 'Region of a valid number, ISO 3166 (IN, KE); NULL when not valid or non-geographic (+800).';
COMMENT ON COLUMN "contacts_current"."phone_type" IS 'mobile, fixed_line, fixed_line_or_mobile, toll_free, voip, … (libphonenumber-js); NULL when not valid.';
COMMENT ON COLUMN "contacts_current"."mapping_version" IS 'The version of the mapping that derived the typed columns from raw; rows of an older version are re-derived in the background (remap).';
COMMENT ON COLUMN "contacts_current"."sync_run_id" IS 'The run (sync_runs.id) that last wrote this row.';

COMMENT ON VIEW "daily_new_contacts" IS 'New live contacts per UTC day of created_at and channel.';
COMMENT ON COLUMN "daily_new_contacts"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "daily_new_contacts"."day" IS 'UTC day of created_at.';
COMMENT ON COLUMN "daily_new_contacts"."channel" IS 'The contact''s first platform, lower-cased: whatsapp, website, telegram, facebook, instagram, or unknown.';
COMMENT ON COLUMN "daily_new_contacts"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "daily_active_contacts" IS 'Live contacts per UTC day of their latest activity (last_seen_at) and channel; a contact counts once, on the last day it was seen.';
COMMENT ON COLUMN "daily_active_contacts"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "daily_active_contacts"."day" IS 'UTC day of last_seen_at.';
COMMENT ON COLUMN "daily_active_contacts"."channel" IS 'The contact''s first platform, lower-cased: whatsapp, website, telegram, facebook, instagram, or unknown.';
COMMENT ON COLUMN "daily_active_contacts"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contact_tags" IS 'One row per live contact and tag (a tag repeated in one contact counts once).';
COMMENT ON COLUMN "contact_tags"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contact_tags"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_tags"."tag" IS 'One tag of the contact.';

COMMENT ON VIEW "contacts_by_tag" IS 'Live contacts per account and tag.';
COMMENT ON COLUMN "contacts_by_tag"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contacts_by_tag"."tag" IS 'A tag.';
COMMENT ON COLUMN "contacts_by_tag"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contact_segments" IS 'One row per live contact and segment.';
COMMENT ON COLUMN "contact_segments"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contact_segments"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_segments"."segment" IS 'One segment id of the contact.';

COMMENT ON VIEW "contacts_by_segment" IS 'Live contacts per account and segment.';
COMMENT ON COLUMN "contacts_by_segment"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contacts_by_segment"."segment" IS 'A segment id.';
COMMENT ON COLUMN "contacts_by_segment"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contacts_by_status" IS 'Live contacts per account and conversation status.';
COMMENT ON COLUMN "contacts_by_status"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contacts_by_status"."status" IS 'Conversation status: OPEN, INPROGRESS, REVIEW, ONHOLD, DEPENDANCY, CLOSED, DELETED.';
COMMENT ON COLUMN "contacts_by_status"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contacts_by_country" IS 'Live contacts per account and country (as sent; NULL when unknown).';
COMMENT ON COLUMN "contacts_by_country"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contacts_by_country"."country" IS 'Country as sent (India).';
COMMENT ON COLUMN "contacts_by_country"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contact_activity" IS 'Activity of each live contact relative to now(): cumulative flags (active within 1, 7, 30 days) and one exclusive cohort.';
COMMENT ON COLUMN "contact_activity"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contact_activity"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_activity"."channel" IS 'The contact''s first platform, lower-cased: whatsapp, website, telegram, facebook, instagram, or unknown.';
COMMENT ON COLUMN "contact_activity"."last_seen_at" IS 'Last activity.';
COMMENT ON COLUMN "contact_activity"."user_interacted" IS 'The contact wrote at least once (not only greeted by the bot).';
COMMENT ON COLUMN "contact_activity"."active_1d" IS 'Seen within the last day.';
COMMENT ON COLUMN "contact_activity"."active_7d" IS 'Seen within the last 7 days.';
COMMENT ON COLUMN "contact_activity"."active_30d" IS 'Seen within the last 30 days.';
COMMENT ON COLUMN "contact_activity"."cohort" IS 'never_interacted, active_1d, active_2_7d, active_8_30d or dormant.';

COMMENT ON VIEW "activity_cohorts" IS 'Live contacts per account and activity cohort (see contact_activity).';
COMMENT ON COLUMN "activity_cohorts"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "activity_cohorts"."cohort" IS 'never_interacted, active_1d, active_2_7d, active_8_30d or dormant.';
COMMENT ON COLUMN "activity_cohorts"."contacts" IS 'Number of live contacts.';

COMMENT ON VIEW "contact_attributes" IS 'Custom fields, one row per live contact and attribute.';
COMMENT ON COLUMN "contact_attributes"."account" IS 'The SYNC_ACCOUNT the contact was mirrored under; filter or group by it when one database mirrors several accounts.';
COMMENT ON COLUMN "contact_attributes"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_attributes"."key" IS 'The attribute''s name.';
COMMENT ON COLUMN "contact_attributes"."value" IS 'Its value as text (strings unquoted, JSON null as NULL).';
COMMENT ON COLUMN "contact_attributes"."value_json" IS 'Its value as sent.';

COMMENT ON VIEW "contact_field_changes" IS 'One row per changed field of contact_changes, for charts of one field over time.';
COMMENT ON COLUMN "contact_field_changes"."change_id" IS 'Increasing id; orders changes seen at the same instant.';
COMMENT ON COLUMN "contact_field_changes"."account" IS 'The account of the contact.';
COMMENT ON COLUMN "contact_field_changes"."contact_id" IS 'The contact (contacts.id).';
COMMENT ON COLUMN "contact_field_changes"."kind" IS 'insert (first seen), update (tracked fields changed), delete (deleted_at set), restore (deleted_at cleared).';
COMMENT ON COLUMN "contact_field_changes"."seen_at" IS 'When the mirror saw the change (the sync''s transaction time, not the moment it happened in the inbox).';
COMMENT ON COLUMN "contact_field_changes"."source_updated_at" IS 'The API''s updatedAt of the new version: close to when it happened in the inbox.';
COMMENT ON COLUMN "contact_field_changes"."field" IS 'The tracked field that changed.';
COMMENT ON COLUMN "contact_field_changes"."old_value" IS 'Its value before (JSON).';
COMMENT ON COLUMN "contact_field_changes"."new_value" IS 'Its value after (JSON).';
COMMENT ON COLUMN "contact_field_changes"."old_text" IS 'Its value before, as text.';
COMMENT ON COLUMN "contact_field_changes"."new_text" IS 'Its value after, as text.';
