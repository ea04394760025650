-- Payment sessions haat opens at a gateway for an order (SSLCommerz's
-- hosted page, bKash's tokenized checkout). The amount is copied from the
-- order when the attempt is made, never taken from the caller. At most one
-- attempt per order is being created or open at a time, so a buyer never
-- holds two live payment pages for one order.
CREATE TABLE payment_attempts (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (id),
    provider     text NOT NULL CHECK (provider IN ('sslcommerz', 'bkash')),
    -- creating: the gateway is being asked (no transaction open meanwhile);
    -- open: the buyer can pay at redirect_url until expires_at.
    status       text NOT NULL CHECK (status IN ('creating', 'open', 'paid', 'failed', 'expired')),
    return_url   text NOT NULL,
    amount       numeric(20, 2) NOT NULL CHECK (amount > 0),
    currency     text NOT NULL,
    redirect_url text,
    -- The gateway's name for the session: SSLCommerz's sessionkey, bKash's paymentID.
    gateway_ref  text,
    failure      text,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'open' OR (redirect_url IS NOT NULL AND gateway_ref IS NOT NULL))
);
CREATE UNIQUE INDEX payment_attempts_one_live ON payment_attempts (order_id) WHERE status IN ('creating', 'open');
CREATE UNIQUE INDEX payment_attempts_gateway_ref ON payment_attempts (provider, gateway_ref) WHERE gateway_ref IS NOT NULL;
CREATE INDEX payment_attempts_order ON payment_attempts (order_id, created_at);
