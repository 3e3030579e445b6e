-- Every agent turn: the question, who asked, the model and how it reasoned, the tool calls with
-- their arguments, results and errors, the facts the answer was built from, and whether the
-- answer passed the grounding check or fell back to the fact sheet. Append-only.
CREATE SEQUENCE agent_run_seq;
CREATE TABLE agent_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('agent_run_seq'),
    asked_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    asked_by      VARCHAR,
    question      VARCHAR NOT NULL,
    intent        VARCHAR,            -- routed: the intent found; tools: 'tools'
    model         VARCHAR NOT NULL,   -- the active model's label, or 'none'
    reasoning     VARCHAR NOT NULL,   -- routed | tools
    answer        VARCHAR NOT NULL,
    grounded      BOOLEAN NOT NULL,   -- every number in the model's answer came from a tool
    fallback      BOOLEAN NOT NULL,   -- the answer shown is the templated fact sheet
    note          VARCHAR,            -- why it fell back (no model, figures no tool gave, ...)
    rejected      VARCHAR,            -- the model's rejected figures (for review, never shown)
    seconds       DOUBLE NOT NULL,
    tool_calls    VARCHAR NOT NULL,   -- JSON list: tool, args, seconds, error, facts
    draft         VARCHAR             -- JSON: a transfer the page may offer to draft
);
