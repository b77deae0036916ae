-- agenttrail schema version 1: the log, as store.Driver keeps it.
--
-- Every table but log_state is written once: rows are inserted, never
-- updated or deleted (contents rows will be deleted by logged erasure only).
-- log_state has one row, updated by each batch under its row lock: the fence
-- that keeps several servers on one log from forking it.
--
-- Portable SQL: PostgreSQL 15 and CockroachDB (no advisory locks, no
-- triggers, no sequences, no stored procedures).

-- The log's identity: format version and origin.
CREATE TABLE log_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The tree after the last committed batch. One row (id = 1).
CREATE TABLE log_state (
    id   INT2 PRIMARY KEY CHECK (id = 1),
    size INT8 NOT NULL CHECK (size >= 0),
    root BYTEA NOT NULL CHECK (length(root) = 32)
);

-- One row per event: its leaf data (EventHeader bytes || content digest),
-- and the METADATA the queries select by, with an SQL index each.
CREATE TABLE events (
    idx         INT8 PRIMARY KEY CHECK (idx >= 0),
    leaf_data   BYTEA NOT NULL,
    session_id  TEXT,
    agent_id    TEXT,
    user_id     TEXT,
    tool_name   TEXT,
    kind        INT4 NOT NULL,
    failure     BOOL NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_session  ON events (session_id, idx) WHERE session_id IS NOT NULL;
CREATE INDEX events_agent    ON events (agent_id, idx) WHERE agent_id IS NOT NULL;
CREATE INDEX events_user     ON events (user_id, idx) WHERE user_id IS NOT NULL;
CREATE INDEX events_tool     ON events (tool_name, idx) WHERE tool_name IS NOT NULL;
CREATE INDEX events_kind     ON events (kind, idx);
CREATE INDEX events_failure  ON events (idx) WHERE failure;
CREATE INDEX events_occurred ON events (occurred_at, idx);

-- The event id index: unique, so that of concurrent writers of one id,
-- on any server, exactly one commits.
CREATE TABLE event_ids (
    event_id TEXT PRIMARY KEY,
    idx      INT8 NOT NULL UNIQUE
);

-- Content records (opaque to the driver: version, salt, content), apart
-- from the leaves, so that erasure can delete them.
CREATE TABLE contents (
    idx    INT8 PRIMARY KEY,
    record BYTEA NOT NULL
);

-- Content destroyed by a logged erasure or retention (written by
-- erasure): the mark that idx's content was destroyed, and the index of
-- the erasure or retention event that names it, when recorded.
CREATE TABLE content_erasures (
    idx       INT8 PRIMARY KEY,
    erased_by INT8
);

-- Stored tree hashes (golang.org/x/mod/sumdb/tlog numbering).
CREATE TABLE tree_hashes (
    idx  INT8 PRIMARY KEY,
    hash BYTEA NOT NULL CHECK (length(hash) = 32)
);

-- The root of the tree after every committed batch.
CREATE TABLE batch_roots (
    size INT8 PRIMARY KEY,
    root BYTEA NOT NULL CHECK (length(root) = 32)
);

-- Signed checkpoints (C2SP tlog-checkpoint notes), one per size.
CREATE TABLE checkpoints (
    size INT8 PRIMARY KEY,
    note BYTEA NOT NULL
);

-- API key credentials (store.Credential as JSON; never a secret, only
-- its hash), and their revocations, each written once.
CREATE TABLE credentials (
    id     TEXT PRIMARY KEY,
    record BYTEA NOT NULL
);
CREATE TABLE credential_revocations (
    id                 TEXT PRIMARY KEY REFERENCES credentials (id),
    revoked_at_unix_ns INT8 NOT NULL
);
