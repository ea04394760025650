-- Order lifecycle beyond delivery (partial delivery, cancellation, returns
-- and refunds by line), the reversal of volume and commissions at their
-- stored amounts, and member withdrawals.

-- A courier's partial delivery; the undelivered lines come back as a return.
ALTER TABLE orders ADD COLUMN partially_delivered_at timestamptz;
-- Set by credit_volume / cascade_commission when they have written their
-- effects, so reversals know what there is to reverse.
ALTER TABLE orders ADD COLUMN volume_credited_at timestamptz;
ALTER TABLE orders ADD COLUMN cascaded_at timestamptz;

-- Units of the line returned, refunded or cancelled so far (Σ of its
-- reversal lines, kept here so a reversal can be capped under the order lock).
ALTER TABLE order_lines ADD COLUMN reversed_quantity integer NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD CONSTRAINT order_lines_reversed_within_quantity
    CHECK (reversed_quantity >= 0 AND reversed_quantity <= quantity);

-- One return, refund or cancellation of some units of an order. It is
-- recorded at once; its effects (volume and commission reversals) are
-- applied as soon as the effects they reverse exist, in seq order.
CREATE TABLE order_reversals (
    id                    uuid PRIMARY KEY,
    seq                   bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    order_id              uuid NOT NULL REFERENCES orders (id),
    kind                  text NOT NULL CHECK (kind IN ('return', 'refund', 'cancel')),
    -- Who reported it (api:{key}, webhook:{provider}:{event}).
    source                text NOT NULL,
    reason                text,
    -- The provider's own id of a refund (generic `data.refund_id`): the same
    -- refund reported again under another event id is recognised by it.
    external_ref          text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    volume_reversed_at    timestamptz,
    commissions_reversed_at timestamptz
);
CREATE INDEX order_reversals_order_idx ON order_reversals (order_id, seq);
CREATE UNIQUE INDEX order_reversals_external_ref_key ON order_reversals (order_id, external_ref)
    WHERE external_ref IS NOT NULL;

CREATE TABLE order_reversal_lines (
    reversal_id   uuid NOT NULL REFERENCES order_reversals (id),
    order_line_id uuid NOT NULL REFERENCES order_lines (id),
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reversal_id, order_line_id)
);

-- Volume reversals are rows of kind 'reversal' naming their reversal; the
-- old (order_line_id, kind) key allowed one row per kind only.
ALTER TABLE volume_entries ADD COLUMN reversal_id uuid REFERENCES order_reversals (id);
ALTER TABLE volume_entries DROP CONSTRAINT volume_entries_order_line_id_kind_key;
CREATE UNIQUE INDEX volume_entries_credit_key ON volume_entries (order_line_id) WHERE kind = 'order';
CREATE UNIQUE INDEX volume_entries_reversal_key ON volume_entries (order_line_id, reversal_id)
    WHERE kind = 'reversal';

-- How much of the commission has been reversed (cancelled while held, or
-- clawed back once released). status 'reversed' means all of it.
ALTER TABLE commissions ADD COLUMN reversed_amount numeric(20, 2) NOT NULL DEFAULT 0;
ALTER TABLE commissions ADD CONSTRAINT commissions_reversed_within_amount
    CHECK (reversed_amount >= 0 AND reversed_amount <= amount);

-- Withdrawals: requested → approved (funds reserved by a posting) → paid
-- (provider reference) | rejected / failed (reservation released).
CREATE TABLE withdrawals (
    id          uuid PRIMARY KEY,
    member_id   uuid NOT NULL REFERENCES members (id),
    amount      numeric(20, 2) NOT NULL CHECK (amount > 0),
    currency    text NOT NULL,
    method      text NOT NULL,
    account     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('requested', 'approved', 'paid', 'rejected', 'failed')),
    reference   text,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX withdrawals_member_idx ON withdrawals (member_id, id);
CREATE INDEX withdrawals_status_idx ON withdrawals (status, id);

-- Every step of a withdrawal, with who took it.
CREATE TABLE withdrawal_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    withdrawal_id uuid NOT NULL REFERENCES withdrawals (id),
    status        text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL
);
CREATE INDEX withdrawal_history_idx ON withdrawal_history (withdrawal_id, id);

-- Webhook events may wait for a provider's confirmation (SSLCommerz
-- validation API, bKash execute/query); what the provider answered is kept.
ALTER TABLE webhook_events ADD COLUMN confirmation jsonb;
CREATE INDEX webhook_events_outcome_idx ON webhook_events (provider, received_at DESC);
