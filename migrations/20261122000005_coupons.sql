-- Coupons at checkout: percent or fixed, a window, a use limit that the
-- conditional UPDATE of the coupon row never lets concurrent orders exceed.
CREATE TABLE coupons (
    id           uuid PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('percent', 'fixed')),
    value        numeric(20, 4) NOT NULL CHECK (value > 0),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    max_uses     integer CHECK (max_uses IS NULL OR max_uses >= 1),
    uses         integer NOT NULL DEFAULT 0,
    min_subtotal numeric(20, 2) NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT coupons_window CHECK (ends_at > starts_at),
    CONSTRAINT coupons_uses_within_max CHECK (max_uses IS NULL OR uses <= max_uses)
);

ALTER TABLE orders ADD COLUMN coupon_id uuid REFERENCES coupons (id);
CREATE INDEX orders_coupon_idx ON orders (coupon_id) WHERE coupon_id IS NOT NULL;
