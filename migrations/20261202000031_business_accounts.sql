-- B2B: price lists per account tier (the newest list of a tier is in
-- force), quantity breaks on a product or a category, and business
-- accounts grouping several members under one tier. An order keeps which
-- list and break priced each line and the catalog price it replaced.
CREATE TABLE price_lists (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    tier       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_lists_tier_idx ON price_lists (tier, created_at DESC, id DESC);

CREATE TABLE price_list_entries (
    price_list_id uuid NOT NULL REFERENCES price_lists (id),
    product_id    uuid NOT NULL REFERENCES products (id),
    price         numeric(20, 2) NOT NULL CHECK (price > 0),
    -- Null: the product's PV; BV then follows the price paid.
    pv            numeric(20, 2) CHECK (pv >= 0),
    bv            numeric(20, 2) CHECK (bv >= 0),
    PRIMARY KEY (price_list_id, product_id)
);

CREATE TABLE quantity_breaks (
    id            uuid PRIMARY KEY,
    price_list_id uuid NOT NULL REFERENCES price_lists (id),
    product_id    uuid REFERENCES products (id),
    category      text,
    min_quantity  integer NOT NULL CHECK (min_quantity >= 2),
    rate          numeric(5, 4) NOT NULL CHECK (rate > 0 AND rate < 1),
    CONSTRAINT quantity_breaks_scope CHECK (num_nonnulls(product_id, category) = 1),
    CONSTRAINT quantity_breaks_once UNIQUE NULLS NOT DISTINCT (price_list_id, product_id, category, min_quantity)
);
CREATE INDEX quantity_breaks_list_idx ON quantity_breaks (price_list_id);

CREATE TABLE business_accounts (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    tier       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A member buys for at most one account.
CREATE TABLE business_account_members (
    member_id  uuid PRIMARY KEY REFERENCES members (id),
    account_id uuid NOT NULL REFERENCES business_accounts (id),
    added_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX business_account_members_account_idx ON business_account_members (account_id);

ALTER TABLE orders ADD COLUMN business_account_id uuid REFERENCES business_accounts (id);
CREATE INDEX orders_business_account_idx ON orders (business_account_id) WHERE business_account_id IS NOT NULL;
ALTER TABLE order_lines
    ADD COLUMN catalog_price     numeric(20, 2),
    ADD COLUMN price_list_id     uuid REFERENCES price_lists (id),
    ADD COLUMN quantity_break_id uuid REFERENCES quantity_breaks (id);
