-- Orders in credit order with the id as the tie-break: plan simulation
-- pages through a range by (commissionable_at, id), and orders credited in
-- the same instant (an import, a batch of deliveries) made every page
-- read and sort all of them again. The composite index serves every
-- query the single-column one served.
CREATE INDEX orders_commissionable_id_idx ON orders (commissionable_at, id) WHERE commissionable_at IS NOT NULL;
DROP INDEX orders_commissionable_idx;
