-- Why the approval policy left a proposal to people, in figures (the limit it broke: "value
-- 80,681.00 above the policy's 50,000", "16,632 units to VMI-KS, 8,120 above its max level
-- of 8,512"), and the money that limit guards (the value above the limit, or the units above
-- the max level at cost; for a kind, lane or supplier the policy does not cover, the whole
-- value). Written by each pass of the policy; proposals it never saw have neither.
ALTER TABLE actions ADD COLUMN kept_for_people VARCHAR;
ALTER TABLE actions ADD COLUMN kept_at_risk DOUBLE;
