-- Marketplace fees and seller escrow.
--
-- A fee schedule is a version of the marketplace's terms: a rate by
-- category with a default, per-seller overrides, a fixed fee per item and
-- the business days a seller's share is held after delivery. Schedules are
-- never updated (there is no UPDATE path in the code): a new version is
-- created, then activated; the one in force is the last activated.
CREATE TABLE fee_schedules (
    id                        uuid PRIMARY KEY,
    version                   integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    name                      text NOT NULL,
    default_rate              numeric(7, 4) NOT NULL CHECK (default_rate BETWEEN 0 AND 1),
    per_item_fee              numeric(20, 2) NOT NULL CHECK (per_item_fee >= 0),
    seller_hold_business_days integer NOT NULL CHECK (seller_hold_business_days BETWEEN 0 AND 60),
    created_at                timestamptz NOT NULL DEFAULT now(),
    activated_at              timestamptz
);
CREATE INDEX fee_schedules_active ON fee_schedules (activated_at DESC) WHERE activated_at IS NOT NULL;

-- The terms before any admin set fees: none, and a hold of 7 business days.
-- So a seller's line always has a schedule to be sold under.
INSERT INTO fee_schedules (id, name, default_rate, per_item_fee, seller_hold_business_days, activated_at)
VALUES ('00000000-0000-7000-8000-000000000001', 'No fees', 0, 0, 7, now());

CREATE TABLE fee_schedule_rates (
    schedule_id uuid NOT NULL REFERENCES fee_schedules (id),
    -- NULL: every category of the seller (an override for one seller).
    category    text,
    -- NULL: every seller (the category's rate).
    seller_id   uuid REFERENCES sellers (id),
    rate        numeric(7, 4) NOT NULL CHECK (rate BETWEEN 0 AND 1),
    CHECK (category IS NOT NULL OR seller_id IS NOT NULL)
);
CREATE UNIQUE INDEX fee_schedule_rates_key
    ON fee_schedule_rates (schedule_id, coalesce(category, ''), coalesce(seller_id, '00000000-0000-0000-0000-000000000000'));

-- What a marketplace line was sold under, copied at order time so a later
-- schedule never moves it.
ALTER TABLE order_lines
    ADD COLUMN seller_id       uuid REFERENCES sellers (id),
    ADD COLUMN fee_schedule_id uuid REFERENCES fee_schedules (id),
    ADD COLUMN fee_rate        numeric(7, 4),
    ADD COLUMN fee_per_item    numeric(20, 2),
    ADD CONSTRAINT order_lines_fee_terms CHECK (
        (seller_id IS NULL AND fee_schedule_id IS NULL AND fee_rate IS NULL AND fee_per_item IS NULL)
        OR (seller_id IS NOT NULL AND fee_schedule_id IS NOT NULL AND fee_rate IS NOT NULL AND fee_per_item IS NOT NULL));
CREATE INDEX order_lines_seller ON order_lines (seller_id) WHERE seller_id IS NOT NULL;

-- Sellers hold accounts in the ledger like members (pending, available,
-- reserved), with cached balances.
ALTER TABLE accounts ADD COLUMN seller_id uuid REFERENCES sellers (id);
ALTER TABLE accounts DROP CONSTRAINT accounts_owner_kind;
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_kind CHECK (
    (member_id IS NOT NULL AND seller_id IS NULL AND kind IN ('pending', 'available', 'credit', 'reserved'))
    OR (seller_id IS NOT NULL AND member_id IS NULL AND kind IN ('pending', 'available', 'reserved'))
    OR (member_id IS NULL AND seller_id IS NULL AND kind LIKE 'system:%'));
DROP INDEX accounts_system_kind_key;
CREATE UNIQUE INDEX accounts_system_kind_key ON accounts (kind) WHERE member_id IS NULL AND seller_id IS NULL;
CREATE UNIQUE INDEX accounts_seller_kind_key ON accounts (seller_id, kind) WHERE seller_id IS NOT NULL;

INSERT INTO accounts (seller_id, kind, currency)
SELECT s.id, k, coalesce((SELECT currency FROM accounts WHERE member_id IS NOT NULL LIMIT 1), 'BDT')
  FROM sellers s CROSS JOIN unnest(ARRAY['pending', 'available', 'reserved']) AS k;

-- A seller's share of one line, credited to its pending account when the
-- line becomes commissionable and released `hold_business_days` after the
-- order's delivery. Reversed like a commission, at the stored amounts.
CREATE TABLE seller_credits (
    order_line_id      uuid PRIMARY KEY REFERENCES order_lines (id),
    order_id           uuid NOT NULL REFERENCES orders (id),
    seller_id          uuid NOT NULL REFERENCES sellers (id),
    -- The line's total after its share of the order's discounts.
    basis              numeric(20, 2) NOT NULL CHECK (basis >= 0),
    fee                numeric(20, 2) NOT NULL CHECK (fee >= 0 AND fee <= basis),
    -- basis − fee: what the seller is owed.
    amount             numeric(20, 2) NOT NULL CHECK (amount = basis - fee),
    reversed_amount    numeric(20, 2) NOT NULL DEFAULT 0 CHECK (reversed_amount BETWEEN 0 AND amount),
    fee_reversed       numeric(20, 2) NOT NULL DEFAULT 0 CHECK (fee_reversed BETWEEN 0 AND fee),
    hold_business_days integer NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'available')),
    -- Unknown until the order is delivered.
    release_at         timestamptz,
    released_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seller_credits_order ON seller_credits (order_id);
CREATE INDEX seller_credits_seller ON seller_credits (seller_id, created_at);

-- A line's value after its share of the order's coupon discount, truncated
-- to the paisa: the basis of the buyer's instant reward and of a seller's
-- share, written once.
CREATE FUNCTION line_after_discount(line_total numeric, subtotal numeric, discount numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(trunc(line_total * (subtotal - discount) / nullif(subtotal, 0), 2), 0) $$;
