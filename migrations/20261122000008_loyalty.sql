-- Instant per-order rewards (DESIGN §7): the buyer's cashback (cash) or
-- points (store credit that expires), one row per order line, held and
-- reversed like commissions. A released points reward is also a lot:
-- spending at checkout takes from the oldest lots first, and the daily
-- expiry takes what is left of a lot once it is older than the plan allows.
CREATE TABLE order_rewards (
    order_line_id   uuid PRIMARY KEY REFERENCES order_lines (id),
    order_id        uuid NOT NULL REFERENCES orders (id),
    member_id       uuid NOT NULL REFERENCES members (id),
    reward          text NOT NULL CHECK (reward IN ('cash', 'credit')),
    basis           numeric(20, 2) NOT NULL,
    rate            numeric(7, 4) NOT NULL,
    -- The tier whose rate applied (null: the plan's own rate).
    tier            text,
    spend_12m       numeric(20, 2) NOT NULL,
    plan_id         uuid NOT NULL REFERENCES plans (id),
    amount          numeric(20, 2) NOT NULL CHECK (amount > 0),
    reversed_amount numeric(20, 2) NOT NULL DEFAULT 0,
    status          text NOT NULL CHECK (status IN ('pending', 'released')),
    release_at      timestamptz NOT NULL,
    released_at     timestamptz,
    expires_at      timestamptz,
    remaining       numeric(20, 2) NOT NULL DEFAULT 0 CHECK (remaining >= 0),
    expired_amount  numeric(20, 2) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_rewards_reversed_within_amount CHECK (reversed_amount >= 0 AND reversed_amount <= amount)
);
CREATE INDEX order_rewards_order_idx ON order_rewards (order_id);
CREATE INDEX order_rewards_lots_idx ON order_rewards (member_id, expires_at) WHERE remaining > 0;
CREATE INDEX order_rewards_expiry_idx ON order_rewards (expires_at) WHERE remaining > 0;

-- Points spent at checkout, lot by lot, so that giving the store credit
-- back (cancel, refund) puts the points back into the lots they came from.
CREATE TABLE points_spends (
    order_id    uuid NOT NULL REFERENCES orders (id),
    lot_line_id uuid NOT NULL REFERENCES order_rewards (order_line_id),
    amount      numeric(20, 2) NOT NULL CHECK (amount > 0),
    restored    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (order_id, lot_line_id)
);
