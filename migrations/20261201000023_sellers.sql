-- Marketplace sellers: a product may name an approved seller; a suspended
-- seller's products cannot be ordered. Seller ids products and campaigns
-- named before sellers existed become approved sellers, so nothing sold
-- before changes.
CREATE TABLE sellers (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    email            text,
    phone            text,
    payout_method    text CHECK (payout_method IN ('bkash', 'nagad', 'bank')),
    payout_account   text,
    status           text NOT NULL CHECK (status IN ('pending', 'approved', 'suspended')),
    -- Days a seller has to prepare an order line (1 to 5).
    preparation_days integer NOT NULL DEFAULT 3 CHECK (preparation_days BETWEEN 1 AND 5),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    approved_at      timestamptz,
    suspended_at     timestamptz
);
CREATE INDEX sellers_status ON sellers (status, created_at);

INSERT INTO sellers (id, name, status, approved_at)
SELECT DISTINCT seller_id, 'Seller ' || left(seller_id::text, 8), 'approved', now()
  FROM (SELECT seller_id FROM products WHERE seller_id IS NOT NULL
        UNION SELECT seller_id FROM campaigns WHERE seller_id IS NOT NULL) named
ON CONFLICT DO NOTHING;

ALTER TABLE products ADD CONSTRAINT products_seller FOREIGN KEY (seller_id) REFERENCES sellers (id);
ALTER TABLE campaigns ADD CONSTRAINT campaigns_seller FOREIGN KEY (seller_id) REFERENCES sellers (id);
CREATE INDEX products_seller ON products (seller_id) WHERE seller_id IS NOT NULL;
