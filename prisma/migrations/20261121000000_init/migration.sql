-- contacts-sync: the mirror, its checkpoints and its run log.

CREATE TABLE "contacts" (
    "account"      TEXT NOT NULL DEFAULT 'default',
    "id"           TEXT NOT NULL,
    "name"         TEXT,
    "email"        TEXT,
    "phone"        TEXT,
    "tags"         TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "segments"     TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "status"       TEXT,
    "platforms"    TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "last_seen_at" TIMESTAMPTZ(3),
    "created_at"   TIMESTAMPTZ(3),
    "updated_at"   TIMESTAMPTZ(3),
    "raw"          JSONB NOT NULL,
    "synced_at"    TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at"   TIMESTAMPTZ(3),

    CONSTRAINT "contacts_pkey" PRIMARY KEY ("account", "id")
);

CREATE TABLE "sync_checkpoints" (
    "account"           TEXT NOT NULL,
    "kind"              TEXT NOT NULL,
    "synced_until"      TIMESTAMPTZ(3),
    "window_start"      TIMESTAMPTZ(3),
    "window_end"        TIMESTAMPTZ(3),
    "cursor"            TIMESTAMPTZ(3),
    "run_id"            BIGINT,
    "page_size"         INTEGER,
    "last_completed_at" TIMESTAMPTZ(3),
    "updated_at"        TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_checkpoints_pkey" PRIMARY KEY ("account", "kind")
);

CREATE TABLE "sync_runs" (
    "id"           BIGSERIAL NOT NULL,
    "account"      TEXT NOT NULL,
    "kind"         TEXT NOT NULL,
    "status"       TEXT NOT NULL DEFAULT 'running',
    "started_at"   TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at"  TIMESTAMPTZ(3),
    "window_start" TIMESTAMPTZ(3),
    "window_end"   TIMESTAMPTZ(3),
    "requests"     INTEGER NOT NULL DEFAULT 0,
    "retries"      INTEGER NOT NULL DEFAULT 0,
    "pages"        INTEGER NOT NULL DEFAULT 0,
    "received"     INTEGER NOT NULL DEFAULT 0,
    "inserted"     INTEGER NOT NULL DEFAULT 0,
    "updated"      INTEGER NOT NULL DEFAULT 0,
    "unchanged"    INTEGER NOT NULL DEFAULT 0,
    "deleted"      INTEGER NOT NULL DEFAULT 0,
    "restored"     INTEGER NOT NULL DEFAULT 0,
    "error"        TEXT,

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "sync_runs_account_kind_started_at_idx" ON "sync_runs"("account", "kind", "started_at");

CREATE TABLE "reconcile_seen" (
    "run_id"  BIGINT NOT NULL,
    "account" TEXT NOT NULL,
    "id"      TEXT NOT NULL,

    CONSTRAINT "reconcile_seen_pkey" PRIMARY KEY ("run_id", "id")
);
