-- Flash sales: a product's price for a time window. At checkout the lowest
-- price of the sales running then replaces the catalog price (PV/BV stay).
CREATE TABLE flash_sales (
    id         uuid PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id),
    price      numeric(20, 2) NOT NULL CHECK (price >= 0),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT flash_sales_window CHECK (ends_at > starts_at)
);
CREATE INDEX flash_sales_product_idx ON flash_sales (product_id, starts_at);
