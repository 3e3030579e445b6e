-- Forecast runs. A run is written in one transaction when it ends: the run, one row per series
-- (the method chosen and why, its backtest scores), one row per series and method tried, and
-- the daily forecasts with their quantiles. Nothing is updated afterwards.
CREATE TABLE forecast_runs (
    run_id        BIGINT PRIMARY KEY,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    as_of         DATE NOT NULL,
    horizon       INTEGER NOT NULL CHECK (horizon > 0),
    settings      VARCHAR NOT NULL,           -- JSON: the settings the run used, tuned ones included
    settings_hash VARCHAR NOT NULL,
    executor      VARCHAR NOT NULL,           -- 'inline', 'processes', 'dask' or 'none' (all reused)
    workers       INTEGER NOT NULL,
    duration_s    DOUBLE NOT NULL,
    series_count  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    reused        INTEGER NOT NULL,
    scope         VARCHAR                     -- the SKUs / locations asked for, NULL for all
);

CREATE TABLE forecast_series (
    run_id        BIGINT NOT NULL,
    sku           VARCHAR NOT NULL,
    location      VARCHAR NOT NULL,
    demand_class  VARCHAR NOT NULL,
    method        VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    rmsse         DOUBLE,                     -- backtest score of the chosen method
    wape          DOUBLE,
    bias          DOUBLE,
    adi           DOUBLE,
    cv2           DOUBLE,
    history_days  INTEGER NOT NULL,
    weight        DOUBLE NOT NULL,            -- sales value of the last 28 days (M5 weights)
    sigma2        DOUBLE,                     -- daily error variance behind the quantiles
    level_var     DOUBLE,                     -- variance of the mean error over a window
    failure       VARCHAR,                    -- why the intended method failed, if it did
    reused        BOOLEAN NOT NULL,
    fit_key       VARCHAR NOT NULL,           -- hash of history and settings
    PRIMARY KEY (run_id, sku, location)
);

CREATE TABLE forecast_candidates (
    run_id   BIGINT NOT NULL,
    sku      VARCHAR NOT NULL,
    location VARCHAR NOT NULL,
    method   VARCHAR NOT NULL,
    rmsse    DOUBLE,
    wape     DOUBLE,
    bias     DOUBLE,
    chosen   BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, sku, location, method)
);

CREATE TABLE forecasts (
    run_id    BIGINT NOT NULL,
    sku       VARCHAR NOT NULL,
    location  VARCHAR NOT NULL,
    date      DATE NOT NULL,
    mean      DOUBLE NOT NULL,
    sd        DOUBLE NOT NULL,
    p50       DOUBLE NOT NULL,
    p90       DOUBLE NOT NULL,
    p95       DOUBLE NOT NULL,
    p99       DOUBLE NOT NULL,
    cum_mean  DOUBLE NOT NULL,                -- from the day after as_of up to this date
    cum_sd    DOUBLE NOT NULL,
    cum_p50   DOUBLE NOT NULL,
    cum_p90   DOUBLE NOT NULL,
    cum_p95   DOUBLE NOT NULL,
    cum_p99   DOUBLE NOT NULL,
    PRIMARY KEY (run_id, sku, location, date)
);
