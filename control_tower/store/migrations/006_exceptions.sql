-- Exception runs, the exceptions they raise and what managers did about them.
--
-- One row per exception in `exceptions`, kept across runs by its key (rule, SKU, location,
-- reference): first and last seen, whether the latest run still raised it, and its
-- acknowledgement or snooze. Each run's figures are in `exception_run_items`; every
-- acknowledgement and snooze is an `exception_events` row. Nothing is deleted.
CREATE SEQUENCE exception_run_seq;
CREATE TABLE exception_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('exception_run_seq'),
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by    VARCHAR NOT NULL,
    as_of         DATE NOT NULL,
    plan_run      BIGINT,          -- the plan whose drafted actions the exceptions link to
    forecast_run  BIGINT,          -- the forecast the projections used (NULL: recent demand)
    settings      VARCHAR NOT NULL,  -- JSON of the thresholds used
    raised        INTEGER NOT NULL,
    seconds       DOUBLE NOT NULL
);

CREATE TABLE exceptions (
    exception_key   VARCHAR PRIMARY KEY,
    rule            VARCHAR NOT NULL CHECK (rule IN
                    ('stockout', 'below_safety_stock', 'excess', 'dead_stock', 'late_inbound',
                     'demand_anomaly', 'data_quality')),
    sku             VARCHAR,
    location        VARCHAR,
    reference       VARCHAR,
    first_seen_run  BIGINT NOT NULL,
    first_seen_at   TIMESTAMP NOT NULL,
    last_seen_run   BIGINT NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    open            BOOLEAN NOT NULL,   -- raised by the latest run
    acknowledged_by VARCHAR,
    acknowledged_at TIMESTAMP,
    ack_reason      VARCHAR,
    snoozed_until   DATE,
    snoozed_by      VARCHAR,
    snooze_reason   VARCHAR
);

CREATE TABLE exception_run_items (
    run_id         BIGINT NOT NULL,
    exception_key  VARCHAR NOT NULL,
    rule           VARCHAR NOT NULL,
    sku            VARCHAR,
    location       VARCHAR,
    reference      VARCHAR,
    severity       DOUBLE NOT NULL,
    value_at_risk  DOUBLE NOT NULL,
    urgency        DOUBLE NOT NULL,
    due_date       DATE,
    units          DOUBLE,
    title          VARCHAR NOT NULL,
    detail         VARCHAR NOT NULL,
    suggestion     VARCHAR,
    facts          VARCHAR NOT NULL,   -- JSON: every figure the rule used
    action_ids     VARCHAR,            -- JSON list: the drafted actions that address it
    PRIMARY KEY (run_id, exception_key)
);

CREATE SEQUENCE exception_event_seq;
CREATE TABLE exception_events (
    event_id       BIGINT PRIMARY KEY DEFAULT nextval('exception_event_seq'),
    exception_key  VARCHAR NOT NULL,
    occurred_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor          VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL CHECK (kind IN ('acknowledge', 'snooze', 'reopen')),
    reason         VARCHAR NOT NULL,
    until          DATE
);

-- Physical counts: what was counted at a location, to compare with the ledger at that time.
CREATE SEQUENCE stock_count_seq;
CREATE TABLE stock_counts (
    count_id     BIGINT PRIMARY KEY DEFAULT nextval('stock_count_seq'),
    sku          VARCHAR NOT NULL,
    location     VARCHAR NOT NULL,
    counted_at   TIMESTAMP NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    counted_by   VARCHAR NOT NULL,
    recorded_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
