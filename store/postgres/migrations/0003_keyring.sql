-- agenttrail schema version 3: encryption at rest and the content lifecycle.
--
-- The keyring is the one place where rows are updated (key rotation) and
-- deleted (erasure, retention): it holds the wrapped keys that encrypt
-- content (see store/masterkey.go). An event's content key is a row of
-- content_keys, read with its content; every other keyring record (subject
-- keys, the master key check) is a row of keyring.
CREATE TABLE keyring (
    name  BYTEA PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE content_keys (
    idx    INT8 PRIMARY KEY,
    record BYTEA NOT NULL
);

-- Lifecycle records (an erasure's intent, and that it is done): written
-- once.
CREATE TABLE lifecycle (
    name  BYTEA PRIMARY KEY,
    value BYTEA NOT NULL
);
