-- A conversation with the agent: the turns asked under one session name (the page's own, or
-- `control-tower ask --session NAME`) and the question plan each was understood as (JSON:
-- intent and subjects), so that a follow-up ("and in Wuhan?") reuses the previous turn's.
ALTER TABLE agent_runs ADD COLUMN session VARCHAR;
ALTER TABLE agent_runs ADD COLUMN plan VARCHAR;
CREATE INDEX agent_runs_session ON agent_runs (session, run_id);
