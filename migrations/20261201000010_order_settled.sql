-- An order is settled once it is delivered and its hold has ended (DESIGN
-- §4: delivered ─hold ends─▶ settled): the release job records the moment.
ALTER TABLE orders ADD COLUMN settled_at timestamptz;
