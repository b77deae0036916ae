-- agenttrail schema version 2: the aggregate statistics Stats answers from
-- (store.AggregateRecord), written once each, in the commit of the batch
-- that adds them: a batch's delta of one cube and hour under the batch's
-- first index (rollup false), or a rollup of the whole hour under the size
-- it covers up to (rollup true). Readers take an hour's latest rollup and
-- the deltas at or after it. cells is opaque (store.Cells encoding).
CREATE TABLE aggregates (
    cube   INT2 NOT NULL,
    hour   INT8 NOT NULL CHECK (hour >= 0),
    rollup BOOL NOT NULL,
    n      INT8 NOT NULL CHECK (n >= 0),
    cells  BYTEA NOT NULL,
    PRIMARY KEY (cube, hour, rollup, n)
);
