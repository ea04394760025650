-- Preparation time: a seller line must be marked prepared (or its order
-- shipped) within the seller's preparation days of the order becoming
-- ready (placed, for cash on delivery; paid, online). A line that is not
-- is late: recorded once, and charged the penalty of the fee schedule it
-- was sold under.
ALTER TABLE fee_schedules
    ADD COLUMN late_line_penalty numeric(20, 2) NOT NULL DEFAULT 0 CHECK (late_line_penalty >= 0);

ALTER TABLE order_lines
    ADD COLUMN prepare_by  timestamptz,
    ADD COLUMN prepared_at timestamptz;
CREATE INDEX order_lines_prepare_by ON order_lines (prepare_by) WHERE prepare_by IS NOT NULL AND prepared_at IS NULL;

CREATE TABLE seller_late_lines (
    order_line_id uuid PRIMARY KEY REFERENCES order_lines (id),
    order_id      uuid NOT NULL REFERENCES orders (id),
    seller_id     uuid NOT NULL REFERENCES sellers (id),
    prepare_by    timestamptz NOT NULL,
    penalty       numeric(20, 2) NOT NULL CHECK (penalty >= 0),
    found_at      timestamptz NOT NULL
);
CREATE INDEX seller_late_lines_seller ON seller_late_lines (seller_id, found_at);
