-- A shop's morning booking of many orders at once: the orders named, the
-- courier, and who asked. One `book_shipments` job books them in bounded
-- batches (each order's booking then has its own job and retries).
CREATE TABLE shipment_batches (
    id           uuid PRIMARY KEY,
    courier      text NOT NULL CHECK (courier IN ('steadfast', 'pathao', 'redx')),
    order_ids    uuid[] NOT NULL CHECK (cardinality(order_ids) BETWEEN 1 AND 5000),
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
