-- Supplier collaboration and VMI consignment.
--
-- A supplier user (role 'supplier') belongs to one supplier and sees only its own data.
-- Suppliers report the stock they hold for us (an upload or an inline edit is a report, kept
-- with its as-of time; the current figure of a SKU is its latest report), the capacity they
-- can give us in the coming weeks, and the consumption they count for a settlement period.
-- Consumption of consigned stock passes ownership in the ledger (consignment_consume) and
-- creates a payable line in the same transaction; settlement statements gather the payable
-- lines of a supplier and period. VMI levels are the agreed min and max of a supplier's
-- consigned stock at one of our locations; every change is a vmi_level_events row.
-- The CHECKs of users, actions and exceptions cannot be altered in place: those tables are
-- rebuilt with every row kept.

CREATE TABLE users_v10 (
    username       VARCHAR PRIMARY KEY,
    display_name   VARCHAR NOT NULL,
    role           VARCHAR NOT NULL CHECK (role IN
                   ('viewer', 'planner', 'approver', 'admin', 'supplier')),
    password_hash  VARCHAR NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by     VARCHAR NOT NULL,
    supplier       VARCHAR,                  -- a supplier user: the supplier it speaks for
    CHECK ((role = 'supplier') = (supplier IS NOT NULL))
);
INSERT INTO users_v10 SELECT *, NULL FROM users;
DROP TABLE users;
ALTER TABLE users_v10 RENAME TO users;

CREATE TABLE actions_v10 (
    action_id      BIGINT PRIMARY KEY DEFAULT nextval('action_seq'),
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    kind           VARCHAR NOT NULL CHECK (kind IN
                   ('transfer', 'purchase_order', 'expedite', 'request_allocation')),
    status         VARCHAR NOT NULL CHECK (status IN
                   ('proposed', 'approved', 'rejected', 'posted', 'closed', 'superseded')),
    plan_run       BIGINT,
    plan_line      INTEGER,
    as_of          DATE NOT NULL,
    sku            VARCHAR NOT NULL,
    from_location  VARCHAR,
    to_location    VARCHAR NOT NULL,
    supplier       VARCHAR,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    ship_date      DATE NOT NULL,
    arrival_date   DATE NOT NULL,             -- a request for allocation: the date needed by
    proposed_by    VARCHAR NOT NULL,
    explanation    VARCHAR,
    target         VARCHAR,
    CHECK ((kind = 'expedite') = (target IS NOT NULL)),
    CHECK (kind NOT IN ('purchase_order', 'request_allocation') OR supplier IS NOT NULL)
);
INSERT INTO actions_v10 SELECT * FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v10 RENAME TO actions;

CREATE TABLE exceptions_v10 (
    exception_key   VARCHAR PRIMARY KEY,
    rule            VARCHAR NOT NULL CHECK (rule IN
                    ('stockout', 'below_safety_stock', 'excess', 'dead_stock', 'late_inbound',
                     'demand_anomaly', 'data_quality', 'supplier_low_water', 'vmi_level',
                     'settlement_difference')),
    sku             VARCHAR,
    location        VARCHAR,
    reference       VARCHAR,
    first_seen_run  BIGINT NOT NULL,
    first_seen_at   TIMESTAMP NOT NULL,
    last_seen_run   BIGINT NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    open            BOOLEAN NOT NULL,
    acknowledged_by VARCHAR,
    acknowledged_at TIMESTAMP,
    ack_reason      VARCHAR,
    snoozed_until   DATE,
    snoozed_by      VARCHAR,
    snooze_reason   VARCHAR
);
INSERT INTO exceptions_v10 SELECT * FROM exceptions;
DROP TABLE exceptions;
ALTER TABLE exceptions_v10 RENAME TO exceptions;

-- What a supplier reports holding for us: one report per upload or inline edit.
CREATE SEQUENCE supplier_report_seq;
CREATE TABLE supplier_stock_reports (
    report_id    BIGINT PRIMARY KEY DEFAULT nextval('supplier_report_seq'),
    supplier     VARCHAR NOT NULL,
    as_of        TIMESTAMP NOT NULL,        -- when the figures were true, as the supplier says
    recorded_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    recorded_by  VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,          -- the file name, 'inline edit' or 'allocation'
    lines        INTEGER NOT NULL CHECK (lines > 0)
);

CREATE TABLE supplier_stock (
    report_id       BIGINT NOT NULL,
    supplier        VARCHAR NOT NULL,
    sku             VARCHAR NOT NULL,
    available_qty   BIGINT NOT NULL CHECK (available_qty >= 0),
    available_date  DATE NOT NULL,          -- the first day it can leave the supplier's site
    note            VARCHAR,
    PRIMARY KEY (report_id, sku)
);

-- Units a supplier can make available to us in a coming week, beyond the stock it holds.
CREATE TABLE supplier_capacity (
    report_id   BIGINT NOT NULL,
    supplier    VARCHAR NOT NULL,
    sku         VARCHAR NOT NULL,
    week_start  DATE NOT NULL,              -- a Monday
    capacity    BIGINT NOT NULL CHECK (capacity >= 0),
    PRIMARY KEY (report_id, sku, week_start)
);

-- A supplier's shipment against an open purchase order line (a call-off to a VMI site or an
-- ordinary order): what left, when, and when it is expected.
CREATE SEQUENCE supplier_shipment_seq;
CREATE TABLE supplier_shipments (
    shipment_id    BIGINT PRIMARY KEY DEFAULT nextval('supplier_shipment_seq'),
    supplier       VARCHAR NOT NULL,
    po_number      VARCHAR NOT NULL,
    sku            VARCHAR NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    shipped_on     DATE NOT NULL,
    expected_date  DATE NOT NULL,
    recorded_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    recorded_by    VARCHAR NOT NULL,
    CHECK (expected_date >= shipped_on)
);

-- Agreed min and max of a supplier's consigned stock of a SKU at one of our locations.
CREATE TABLE vmi_levels (
    sku         VARCHAR NOT NULL,
    location    VARCHAR NOT NULL,
    supplier    VARCHAR NOT NULL,
    min_qty     BIGINT NOT NULL CHECK (min_qty >= 0),
    max_qty     BIGINT NOT NULL,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by  VARCHAR NOT NULL,
    PRIMARY KEY (sku, location),
    CHECK (max_qty >= min_qty AND max_qty > 0)
);

CREATE SEQUENCE vmi_level_event_seq;
CREATE TABLE vmi_level_events (
    event_id     BIGINT PRIMARY KEY DEFAULT nextval('vmi_level_event_seq'),
    sku          VARCHAR NOT NULL,
    location     VARCHAR NOT NULL,
    supplier     VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor        VARCHAR NOT NULL,
    min_before   BIGINT,
    max_before   BIGINT,
    min_after    BIGINT NOT NULL,
    max_after    BIGINT NOT NULL,
    reason       VARCHAR NOT NULL
);

-- One payable line per consumption of consigned stock (the supplier's consignment_consume
-- ledger row), priced when it happened; a statement claims it once.
CREATE TABLE payables (
    event_id      VARCHAR PRIMARY KEY,      -- the ledger row that passed ownership
    supplier      VARCHAR NOT NULL,
    sku           VARCHAR NOT NULL,
    location      VARCHAR NOT NULL,
    consumed_at   TIMESTAMP NOT NULL,
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    unit_price    DECIMAL(18, 4) NOT NULL CHECK (unit_price >= 0),
    amount        DECIMAL(18, 4) NOT NULL,
    price_source  VARCHAR NOT NULL CHECK (price_source IN ('supplier price', 'unit cost')),
    statement_id  BIGINT
);

CREATE SEQUENCE settlement_seq;
CREATE TABLE settlement_statements (
    statement_id  BIGINT PRIMARY KEY DEFAULT nextval('settlement_seq'),
    supplier      VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,            -- inclusive
    issued_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    issued_by     VARCHAR NOT NULL,
    lines         INTEGER NOT NULL,
    quantity      BIGINT NOT NULL,
    amount        DECIMAL(18, 4) NOT NULL,
    CHECK (period_end >= period_start)
);

CREATE TABLE settlement_lines (
    statement_id  BIGINT NOT NULL,
    sku           VARCHAR NOT NULL,
    quantity      BIGINT NOT NULL,
    amount        DECIMAL(18, 4) NOT NULL,
    PRIMARY KEY (statement_id, sku)
);

-- What a supplier counts as consumed in a period, to reconcile a statement against.
CREATE SEQUENCE consumption_report_seq;
CREATE TABLE supplier_consumption_reports (
    report_id     BIGINT PRIMARY KEY DEFAULT nextval('consumption_report_seq'),
    supplier      VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    recorded_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    recorded_by   VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    CHECK (period_end >= period_start)
);

CREATE TABLE supplier_consumption (
    report_id  BIGINT NOT NULL,
    sku        VARCHAR NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (report_id, sku)
);

-- Consumption of consigned stock already in the ledger: its payable lines.
INSERT INTO payables (event_id, supplier, sku, location, consumed_at, quantity, unit_price,
                      amount, price_source)
SELECT l.event_id, l.owner, l.sku, l.location, l.ts, -l.quantity,
       coalesce(sp.price, p.unit_cost, 0), -l.quantity * coalesce(sp.price, p.unit_cost, 0),
       CASE WHEN sp.price IS NULL THEN 'unit cost' ELSE 'supplier price' END
FROM ledger l
LEFT JOIN supplier_products sp ON sp.supplier = l.owner AND sp.sku = l.sku
LEFT JOIN products p ON p.sku = l.sku
WHERE l.movement_type = 'consignment_consume' AND l.quantity < 0 AND l.owner <> 'company';
