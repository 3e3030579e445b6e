-- Who made a forecast run (the signed-in user, `policy:<name>`, `scheduler`, or the name a
-- command line ran under) and, when it was not made with the configured pipeline, how it was
-- made (the demo's first run: the backtested baselines only). Runs stored before this
-- migration have neither.
ALTER TABLE forecast_runs ADD COLUMN created_by VARCHAR;
ALTER TABLE forecast_runs ADD COLUMN note VARCHAR;
