-- Parcels haat books with a courier for an order. At most one booking per
-- order is live (booking or booked), so an order is never booked twice;
-- one that failed may be booked again (with the same or another courier).
CREATE TABLE shipments (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (id),
    courier         text NOT NULL CHECK (courier IN ('steadfast', 'pathao', 'redx')),
    status          text NOT NULL CHECK (status IN ('booking', 'booked', 'failed')),
    -- What the courier collects from the buyer (the order's total for cod, else 0).
    cod_amount      numeric(20, 2) NOT NULL CHECK (cod_amount >= 0),
    note            text,
    consignment_id  text,
    tracking_number text,
    -- Every failed try, newest last error kept for the admin.
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    requested_by    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    booked_at       timestamptz,
    CHECK (status <> 'booked' OR (consignment_id IS NOT NULL AND tracking_number IS NOT NULL))
);
CREATE UNIQUE INDEX shipments_one_live ON shipments (order_id) WHERE status IN ('booking', 'booked');
CREATE UNIQUE INDEX shipments_consignment ON shipments (courier, consignment_id) WHERE consignment_id IS NOT NULL;
CREATE INDEX shipments_order ON shipments (order_id, created_at);
CREATE INDEX shipments_status ON shipments (status, created_at) WHERE status <> 'booked';
