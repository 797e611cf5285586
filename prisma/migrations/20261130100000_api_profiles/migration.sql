-- What `contacts-sync check` measured about the inbox API, per account: the profile (src/probe/profile.ts),
-- the strategy planned from it (or the reasons none is safe), and when. A probe that fails stores nothing;
-- one that finds the API unsafe is stored too, so `status` can say so. One row per account: the latest check.
CREATE TABLE IF NOT EXISTS "api_profiles" (
    "account"     TEXT NOT NULL PRIMARY KEY,
    "measured_at" TIMESTAMPTZ(3) NOT NULL,
    "profile"     JSONB NOT NULL,
    "strategy"    JSONB,
    "ok"          BOOLEAN NOT NULL
);
