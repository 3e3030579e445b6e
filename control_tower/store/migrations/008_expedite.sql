-- Expedite actions: a request to a supplier (or the shipping site) to bring a late purchase
-- order line or transfer forward. `target` names the PO number or transfer id it chases. The
-- kind's CHECK cannot be altered in place, so the table is rebuilt with every row kept.
CREATE TABLE actions_v8 (
    action_id      BIGINT PRIMARY KEY DEFAULT nextval('action_seq'),
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    kind           VARCHAR NOT NULL CHECK (kind IN ('transfer', 'purchase_order', 'expedite')),
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
    ship_date      DATE NOT NULL,             -- an expedite: the day it is asked for
    arrival_date   DATE NOT NULL,             -- an expedite: the date asked for
    proposed_by    VARCHAR NOT NULL,
    explanation    VARCHAR,
    target         VARCHAR,                   -- an expedite: the PO number or transfer id
    CHECK ((kind = 'expedite') = (target IS NOT NULL))
);
INSERT INTO actions_v8 SELECT *, NULL FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v8 RENAME TO actions;
