-- Every PO line or transfer an expedite chases: one expedite asks a supplier (or shipping
-- site) for all its late deliveries of one SKU to one location at once, as a buyer makes one
-- call, not one per line. `target` stays the first of them (the earliest expected). Actions
-- drafted before this migration chase their `target` alone.
ALTER TABLE actions ADD COLUMN targets VARCHAR[];
