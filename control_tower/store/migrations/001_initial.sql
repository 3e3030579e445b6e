-- Master data ---------------------------------------------------------------------------
CREATE TABLE locations (
    code            VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL CHECK (kind IN ('central_dc', 'regional_dc', 'store', 'supplier', 'vmi')),
    region          VARCHAR,
    country         VARCHAR,
    lat             DOUBLE CHECK (lat BETWEEN -90 AND 90),
    lon             DOUBLE CHECK (lon BETWEEN -180 AND 180),
    capacity        BIGINT CHECK (capacity >= 0),
    allow_negative  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE products (
    sku              VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL,
    category         VARCHAR,
    unit_cost        DECIMAL(18, 4) NOT NULL CHECK (unit_cost >= 0),
    price            DECIMAL(18, 4) CHECK (price >= 0),
    unit_volume      DOUBLE CHECK (unit_volume >= 0),
    shelf_life_days  INTEGER CHECK (shelf_life_days > 0)
);

CREATE TABLE suppliers (
    code           VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    country        VARCHAR,
    location       VARCHAR,          -- the supplier's own site, a location of kind 'supplier'
    vmi            BOOLEAN NOT NULL DEFAULT FALSE,
    on_time_rate   DOUBLE CHECK (on_time_rate BETWEEN 0 AND 1)
);

CREATE TABLE supplier_products (
    supplier             VARCHAR NOT NULL,
    sku                  VARCHAR NOT NULL,
    lead_time_mean_days  DOUBLE NOT NULL CHECK (lead_time_mean_days >= 0),
    lead_time_std_days   DOUBLE NOT NULL DEFAULT 0 CHECK (lead_time_std_days >= 0),
    moq                  BIGINT NOT NULL DEFAULT 1 CHECK (moq >= 0),
    pack_size            BIGINT NOT NULL DEFAULT 1 CHECK (pack_size >= 1),
    price                DECIMAL(18, 4) CHECK (price >= 0),
    PRIMARY KEY (supplier, sku)
);

CREATE TABLE lanes (
    from_location  VARCHAR NOT NULL,
    to_location    VARCHAR NOT NULL,
    transit_days   INTEGER NOT NULL CHECK (transit_days >= 0),
    cost_per_unit  DECIMAL(18, 4) NOT NULL CHECK (cost_per_unit >= 0),
    fixed_cost     DECIMAL(18, 4) NOT NULL DEFAULT 0 CHECK (fixed_cost >= 0),
    capacity       BIGINT CHECK (capacity >= 0),
    PRIMARY KEY (from_location, to_location)
);

-- Facts -------------------------------------------------------------------------------------
-- The stock ledger: append-only. quantity is the signed change of on-hand at (sku, location,
-- owner); on hand is always SUM(quantity). A replayed event_id is a no-op.
-- The two large fact tables carry no index: event_id (and demand's sku, location, date) are
-- kept unique by their one write path (control_tower.ledger.append_movements and the demand
-- import), which checks inside the transaction under the store's write lock. An ART index
-- costs about 12x on bulk insert and gigabytes of memory at tens of millions of rows.
CREATE TABLE ledger (
    event_id       VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    sku            VARCHAR NOT NULL,
    location       VARCHAR NOT NULL,
    movement_type  VARCHAR NOT NULL CHECK (movement_type IN
                   ('receipt', 'sale', 'issue', 'transfer_out', 'transfer_in', 'adjustment',
                    'consignment_consume')),
    quantity       BIGINT NOT NULL,
    owner          VARCHAR NOT NULL DEFAULT 'company',
    reference      VARCHAR,
    note           VARCHAR,
    recorded_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- What customers asked for, per day; may exceed sales when stock ran out.
CREATE TABLE demand_history (
    sku       VARCHAR NOT NULL,
    location  VARCHAR NOT NULL,
    date      DATE NOT NULL,
    quantity  BIGINT NOT NULL CHECK (quantity >= 0)
);

-- Purchase order lines. What has arrived is the ledger's receipts that reference the PO.
CREATE TABLE purchase_orders (
    po_number      VARCHAR NOT NULL,
    sku            VARCHAR NOT NULL,
    supplier       VARCHAR NOT NULL,
    location       VARCHAR NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    order_date     DATE NOT NULL,
    expected_date  DATE NOT NULL,
    status         VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
    PRIMARY KEY (po_number, sku)
);

-- Transfers between locations. What is in transit is the ledger's transfer_out legs that
-- reference the transfer less its transfer_in legs.
CREATE TABLE transfers (
    transfer_id    VARCHAR PRIMARY KEY,
    sku            VARCHAR NOT NULL,
    from_location  VARCHAR NOT NULL,
    to_location    VARCHAR NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    ship_date      DATE,
    expected_date  DATE NOT NULL,
    received_date  DATE,
    status         VARCHAR NOT NULL CHECK (status IN ('planned', 'in_transit', 'received', 'cancelled'))
);

-- One row per successful import, for the freshness of each source.
CREATE SEQUENCE import_runs_seq;
CREATE TABLE import_runs (
    id            BIGINT PRIMARY KEY DEFAULT nextval('import_runs_seq'),
    entity        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    rows_read     BIGINT NOT NULL,
    rows_written  BIGINT NOT NULL,
    rows_skipped  BIGINT NOT NULL,
    data_from     DATE,
    data_to       DATE,
    imported_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);
