-- Optimizer runs. A run is written in one transaction when it ends: the run with its status,
-- costs and inputs' as-of, its lines (each also a proposed action), and the projected stock
-- per SKU x location x day. What-if runs point to the base run they vary and propose nothing.
CREATE SEQUENCE plan_run_seq;
CREATE TABLE plan_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('plan_run_seq'),
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by    VARCHAR NOT NULL,
    as_of         DATE NOT NULL,
    forecast_run  BIGINT,                     -- the latest forecast run the demand came from
    horizon       INTEGER NOT NULL CHECK (horizon > 0),
    review_days   INTEGER NOT NULL CHECK (review_days > 0),
    base_run      BIGINT,                     -- a what-if: the run it is compared with
    what_if       VARCHAR NOT NULL,           -- JSON; {} for a base plan
    settings      VARCHAR NOT NULL,           -- JSON: the optimizer settings used
    status        VARCHAR NOT NULL CHECK (status IN
                  ('optimal', 'feasible', 'infeasible', 'time_limit', 'error')),
    method        VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    objective     DOUBLE,
    bound         DOUBLE,
    gap           DOUBLE,
    build_s       DOUBLE NOT NULL,
    solve_s       DOUBLE NOT NULL,
    sku_count     INTEGER NOT NULL,
    location_count INTEGER NOT NULL,
    costs         VARCHAR NOT NULL,           -- JSON: the cost breakdown
    kpis          VARCHAR NOT NULL,           -- JSON: planned fill rate, inventory value, ...
    notes         VARCHAR NOT NULL,           -- JSON list
    scope         VARCHAR                     -- the SKUs asked for, NULL for all
);

CREATE TABLE plan_lines (
    run_id         BIGINT NOT NULL,
    line_no        INTEGER NOT NULL,
    kind           VARCHAR NOT NULL CHECK (kind IN ('transfer', 'order')),
    source_kind    VARCHAR NOT NULL,          -- neighbour, central DC, VMI, supplier
    sku            VARCHAR NOT NULL,
    from_location  VARCHAR,                   -- NULL for an order
    to_location    VARCHAR NOT NULL,
    supplier       VARCHAR,                   -- NULL for a transfer
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    ship_date      DATE NOT NULL,             -- order date for an order
    arrival_date   DATE NOT NULL,
    release_now    BOOLEAN NOT NULL,          -- in the first review period: to carry out now
    unit_price     DOUBLE NOT NULL,           -- transport per unit, or the supplier's price
    value          DOUBLE NOT NULL,           -- quantity x unit cost
    cost           DOUBLE NOT NULL,           -- what the line adds to the plan's cost
    reason         VARCHAR NOT NULL,
    alternatives   VARCHAR NOT NULL,          -- JSON list: source, cost, arrival, verdict
    PRIMARY KEY (run_id, line_no)
);

CREATE TABLE plan_projection (
    run_id     BIGINT NOT NULL,
    sku        VARCHAR NOT NULL,
    location   VARCHAR NOT NULL,
    date       DATE NOT NULL,
    demand     BIGINT NOT NULL,
    served     BIGINT NOT NULL,
    inventory  BIGINT NOT NULL,               -- end of day
    PRIMARY KEY (run_id, sku, location, date)
);

-- Actions: a decision to take. Drafted by a plan as 'proposed'; the approval flow moves them
-- on. Rows are never deleted; every change of status or quantity is an action_event.
CREATE SEQUENCE action_seq;
CREATE TABLE actions (
    action_id      BIGINT PRIMARY KEY DEFAULT nextval('action_seq'),
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    kind           VARCHAR NOT NULL CHECK (kind IN ('transfer', 'purchase_order')),
    status         VARCHAR NOT NULL CHECK (status IN
                   ('proposed', 'approved', 'rejected', 'posted', 'closed', 'superseded')),
    plan_run       BIGINT,
    plan_line      INTEGER,
    as_of          DATE NOT NULL,             -- the data the proposal was made on
    sku            VARCHAR NOT NULL,
    from_location  VARCHAR,
    to_location    VARCHAR NOT NULL,
    supplier       VARCHAR,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    ship_date      DATE NOT NULL,
    arrival_date   DATE NOT NULL,
    proposed_by    VARCHAR NOT NULL,
    explanation    VARCHAR
);

CREATE SEQUENCE action_event_seq;
CREATE TABLE action_events (
    event_id         BIGINT PRIMARY KEY DEFAULT nextval('action_event_seq'),
    action_id        BIGINT NOT NULL,
    occurred_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor            VARCHAR NOT NULL,
    from_status      VARCHAR,
    to_status        VARCHAR NOT NULL,
    reason           VARCHAR,
    quantity_before  BIGINT,
    quantity_after   BIGINT
);
