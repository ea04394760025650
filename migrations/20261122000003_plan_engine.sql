-- The plan engine: qualification by personal volume over a window of time,
-- guest orders through a referrer's share link, pickup points, retail and
-- pickup commissions, breakage by kind, and the payout cap's factor.

-- When the volume counts: the order's credit time (a reversal keeps the
-- time of the credit it reverses, like its period, so any window nets out).
ALTER TABLE volume_entries ADD COLUMN at timestamptz;
UPDATE volume_entries v SET at = coalesce(o.commissionable_at, v.created_at) FROM orders o WHERE o.id = v.order_id;
ALTER TABLE volume_entries ALTER COLUMN at SET NOT NULL;
CREATE INDEX volume_entries_member_at_idx ON volume_entries (member_id, at);

-- Pickup points (outlets) where buyers collect orders; their operator earns
-- the plan's pickup_rate on orders collected there.
CREATE TABLE pickup_points (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    operator_id uuid NOT NULL REFERENCES members (id),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A guest order has no buyer member: it has the guest's contact and the
-- member whose share link it came through (who gets its volume as customer
-- volume and the retail margin).
ALTER TABLE orders ALTER COLUMN buyer_id DROP NOT NULL;
ALTER TABLE orders ADD COLUMN referrer_id uuid REFERENCES members (id);
ALTER TABLE orders ADD COLUMN guest jsonb;
ALTER TABLE orders ADD COLUMN pickup_point_id uuid REFERENCES pickup_points (id);
ALTER TABLE orders ADD CONSTRAINT orders_buyer_or_guest CHECK (
    (buyer_id IS NOT NULL AND referrer_id IS NULL AND guest IS NULL)
    OR (buyer_id IS NULL AND referrer_id IS NOT NULL AND guest IS NOT NULL));
CREATE INDEX orders_referrer_idx ON orders (referrer_id, created_at DESC) WHERE referrer_id IS NOT NULL;
-- Orders by credit time, for simulations and reports over a range.
CREATE INDEX orders_commissionable_idx ON orders (commissionable_at) WHERE commissionable_at IS NOT NULL;

-- Retail and pickup shares are forfeited at physical level 0, side by side.
ALTER TABLE commission_breakage ADD COLUMN kind text NOT NULL DEFAULT 'level';
ALTER TABLE commission_breakage DROP CONSTRAINT commission_breakage_order_line_id_physical_level_key;
CREATE UNIQUE INDEX commission_breakage_line_kind_level_key
    ON commission_breakage (order_line_id, kind, physical_level);

-- The payout cap's scale factor when it cut the order's commissions.
ALTER TABLE commissions ADD COLUMN cap_factor numeric(12, 10);
ALTER TABLE commissions ADD CONSTRAINT commissions_kind CHECK (kind IN ('level', 'retail', 'pickup', 'bonus'));
