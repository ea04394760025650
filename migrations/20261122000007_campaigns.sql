-- Deadline cashback campaigns (DESIGN §7): terms, their settlement schedule,
-- the frozen decision with its figures, and one payout per rewarded
-- purchase (order line), which a later refund or return claws back.

CREATE TABLE campaigns (
    id               uuid PRIMARY KEY,
    -- An occurrence of a recurring campaign names its template.
    parent_id        uuid REFERENCES campaigns (id),
    name             text NOT NULL,
    scope_kind       text NOT NULL CHECK (scope_kind IN ('product', 'seller', 'all')),
    product_id       uuid REFERENCES products (id),
    seller_id        uuid,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    time_zone        text NOT NULL,
    settle_at        timestamptz NOT NULL,
    -- What settle_at is after ends_at by default, kept for occurrences.
    grace_seconds    integer NOT NULL CHECK (grace_seconds >= 0),
    -- Recurring: each tick (in time_zone) ends one occurrence's window.
    cron             text,
    rate             numeric(7, 4) NOT NULL CHECK (rate > 0 AND rate <= 1),
    trigger          text NOT NULL CHECK (trigger IN ('reached', 'missed')),
    min_units        bigint NOT NULL CHECK (min_units >= 0),
    max_units        bigint,
    min_value        numeric(20, 2),
    max_value        numeric(20, 2),
    per_buyer_limit  integer CHECK (per_buyer_limit IS NULL OR per_buyer_limit >= 1),
    reward           text NOT NULL CHECK (reward IN ('cash', 'credit')),
    budget           numeric(20, 2) CHECK (budget IS NULL OR budget > 0),
    status           text NOT NULL CHECK (status IN ('scheduled', 'recurring', 'settled', 'cancelled')),
    -- Bumped by every (re)schedule: a settle job of an older schedule does nothing.
    schedule_version integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_window CHECK (ends_at > starts_at),
    CONSTRAINT campaigns_scope CHECK (
        (scope_kind = 'product' AND product_id IS NOT NULL AND seller_id IS NULL)
        OR (scope_kind = 'seller' AND seller_id IS NOT NULL AND product_id IS NULL)
        OR (scope_kind = 'all' AND product_id IS NULL AND seller_id IS NULL))
);
CREATE UNIQUE INDEX campaigns_occurrence_key ON campaigns (parent_id, starts_at) WHERE parent_id IS NOT NULL;

-- The decision, stored once with the figures it was made on.
CREATE TABLE campaign_settlements (
    campaign_id        uuid PRIMARY KEY REFERENCES campaigns (id),
    decision           text NOT NULL CHECK (decision IN ('paid', 'not_paid')),
    units              bigint NOT NULL,
    value              numeric(20, 2) NOT NULL,
    eligible_purchases integer NOT NULL,
    paid_purchases     integer NOT NULL,
    paid_total         numeric(20, 2) NOT NULL,
    scale              numeric(12, 10),
    release_at         timestamptz,
    settled_at         timestamptz NOT NULL
);

-- One row per rewarded purchase.
CREATE TABLE campaign_payouts (
    campaign_id     uuid NOT NULL REFERENCES campaigns (id),
    order_line_id   uuid NOT NULL REFERENCES order_lines (id),
    order_id        uuid NOT NULL REFERENCES orders (id),
    buyer_id        uuid NOT NULL REFERENCES members (id),
    -- Units that counted, and the line's units already reversed then: a
    -- later reversal claws back its share of `amount` over `units`.
    units           integer NOT NULL CHECK (units > 0),
    reversed_before integer NOT NULL,
    basis           numeric(20, 2) NOT NULL,
    amount          numeric(20, 2) NOT NULL CHECK (amount > 0),
    reversed_amount numeric(20, 2) NOT NULL DEFAULT 0,
    -- held (cash, in pending) → available; credit goes straight to store credit.
    status          text NOT NULL CHECK (status IN ('held', 'available', 'credit')),
    PRIMARY KEY (campaign_id, order_line_id),
    CONSTRAINT campaign_payouts_reversed_within_amount CHECK (reversed_amount >= 0 AND reversed_amount <= amount)
);
CREATE INDEX campaign_payouts_order_idx ON campaign_payouts (order_id);
CREATE INDEX campaign_payouts_buyer_idx ON campaign_payouts (buyer_id);

-- Finding what a campaign's window counts: orders by payment time.
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX orders_cod_delivered_idx ON orders (delivered_at) WHERE paid_at IS NULL AND payment_method = 'cod';
CREATE INDEX order_lines_product_idx ON order_lines (product_id);
