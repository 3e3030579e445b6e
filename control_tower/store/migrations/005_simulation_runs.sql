-- Policy replays (control_tower.simulate): one row per policy run over a past period, with its
-- measures and its day-by-day service and inventory, so the Plan page compares them later.
CREATE SEQUENCE simulation_run_seq;
CREATE TABLE simulation_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('simulation_run_seq'),
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    batch         VARCHAR NOT NULL,           -- runs compared together share a batch
    policy        VARCHAR NOT NULL CHECK (policy IN ('optimizer', 'minmax', 'none')),
    start_date    DATE NOT NULL,
    days          INTEGER NOT NULL CHECK (days > 0),
    review_days   INTEGER NOT NULL CHECK (review_days > 0),
    minmax_scale  DOUBLE,
    measures      VARCHAR NOT NULL,           -- JSON: SimulationResult.as_dict()
    daily         VARCHAR NOT NULL            -- JSON list: date, demand, served, inventory_value
);
