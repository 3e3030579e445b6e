-- An explanation's figures beside its text: the JSON of control_tower.explain.Explanation
-- (why, the projection without and with the action, the cost in parts, the alternatives, the
-- safety stock), from which the inbox and the Actions page draw its card. Actions explained
-- before this migration, and actions drafted otherwise, have none.
ALTER TABLE actions ADD COLUMN explanation_record VARCHAR;
