-- Policy overrides per SKU x location, append-only: the latest row of a (sku, location, field)
-- is in force; a NULL value clears it. The table is the audit trail.
CREATE SEQUENCE policy_override_seq;
CREATE TABLE policy_overrides (
    id          BIGINT PRIMARY KEY DEFAULT nextval('policy_override_seq'),
    sku         VARCHAR NOT NULL,
    location    VARCHAR NOT NULL,
    field       VARCHAR NOT NULL CHECK (field IN
                ('service_level', 'safety_stock', 'reorder_point', 'max_level')),
    value       DOUBLE,
    reason      VARCHAR NOT NULL,
    changed_by  VARCHAR NOT NULL,
    changed_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
