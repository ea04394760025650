-- haat foundation schema: members and their tree, catalog, plans, orders and
-- their history, volume, commissions, the double-entry ledger, webhooks,
-- notifications, API keys and HTTP idempotency keys.
--
-- Money is numeric(20,2) (minor unit of BDT and most currencies); rates are
-- numeric(7,4); volume (PV/BV) is numeric(20,2) and is never a price.

-- Members form a unilevel tree through parent_id (placement). sponsor_id is
-- who referred them and never changes; parent_id may be moved by an admin.
-- The tree is stored only as parent pointers so a move is one row update and
-- the upline is a walk of `levels` primary-key lookups (see domain::members).
CREATE TABLE members (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL,
    phone         text,
    referral_code text NOT NULL UNIQUE,
    sponsor_id    uuid REFERENCES members (id),
    parent_id     uuid REFERENCES members (id),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    is_root       boolean NOT NULL DEFAULT false,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_not_own_parent CHECK (parent_id IS DISTINCT FROM id)
);
-- Emails are compared case-insensitively; one member per email.
CREATE UNIQUE INDEX members_email_key ON members (lower(email));
CREATE INDEX members_parent_idx ON members (parent_id);
-- At most one company/root member.
CREATE UNIQUE INDEX members_one_root ON members (is_root) WHERE is_root;

CREATE TABLE products (
    id             uuid PRIMARY KEY,
    sku            text NOT NULL UNIQUE,
    name           text NOT NULL,
    category       text NOT NULL,
    price          numeric(20, 2) NOT NULL CHECK (price >= 0),
    pv             numeric(20, 2) NOT NULL CHECK (pv >= 0),
    bv             numeric(20, 2) NOT NULL CHECK (bv >= 0),
    -- Never negative: an order that would take it below zero is refused whole.
    stock          integer NOT NULL CHECK (stock >= 0),
    active         boolean NOT NULL DEFAULT true,
    commissionable boolean NOT NULL DEFAULT true,
    seller_id      uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Plan versions are immutable: there is no UPDATE path in the code. The
-- version in effect at a time is the newest effective_from <= that time.
CREATE TABLE plans (
    id              uuid PRIMARY KEY,
    version         integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    name            text NOT NULL,
    effective_from  timestamptz NOT NULL,
    credit_on       text NOT NULL CHECK (credit_on IN ('paid', 'delivered')),
    holding_days    integer NOT NULL CHECK (holding_days >= 0),
    -- The whole validated plan document, as answered by the API.
    document        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_effective_idx ON plans (effective_from DESC, version DESC);

CREATE SEQUENCE invoice_no_seq;

CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    invoice_no        text NOT NULL UNIQUE,
    buyer_id          uuid NOT NULL REFERENCES members (id),
    status            text NOT NULL,
    payment_method    text NOT NULL CHECK (payment_method IN ('online', 'cod')),
    currency          text NOT NULL,
    subtotal          numeric(20, 2) NOT NULL,
    discount          numeric(20, 2) NOT NULL,
    store_credit      numeric(20, 2) NOT NULL,
    total             numeric(20, 2) NOT NULL,
    pv                numeric(20, 2) NOT NULL,
    bv                numeric(20, 2) NOT NULL,
    shipping_address  jsonb NOT NULL,
    -- Facts as they arrive (possibly out of order); status is derived from them.
    paid_at           timestamptz,
    shipped_at        timestamptz,
    delivered_at      timestamptz,
    cancelled_at      timestamptz,
    -- Set once, when the plan's credit_on fact is established.
    commissionable_at timestamptz,
    plan_id           uuid REFERENCES plans (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC);

CREATE TABLE order_lines (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL REFERENCES orders (id),
    line_no        integer NOT NULL,
    product_id     uuid NOT NULL REFERENCES products (id),
    quantity       integer NOT NULL CHECK (quantity > 0),
    -- Copied at order time so later catalog edits never move this order.
    unit_price     numeric(20, 2) NOT NULL,
    pv             numeric(20, 2) NOT NULL,
    bv             numeric(20, 2) NOT NULL,
    line_total     numeric(20, 2) NOT NULL,
    category       text NOT NULL,
    commissionable boolean NOT NULL,
    UNIQUE (order_id, line_no)
);

-- Every status change with its time and source (API, webhook id, job).
CREATE TABLE order_history (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id),
    status   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    source   text NOT NULL
);
CREATE INDEX order_history_order_idx ON order_history (order_id, id);

-- Every fact that reached an order, including duplicates and regressions
-- that changed nothing (outcome says which).
CREATE TABLE order_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id),
    fact     text NOT NULL,
    outcome  text NOT NULL,
    source   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

-- Append-only volume: one row per order line credited (kind 'order'); a
-- reversal is a new row, never an update.
CREATE TABLE volume_entries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id     uuid NOT NULL REFERENCES members (id),
    order_id      uuid NOT NULL REFERENCES orders (id),
    order_line_id uuid NOT NULL REFERENCES order_lines (id),
    kind          text NOT NULL,
    pv            numeric(20, 2) NOT NULL,
    bv            numeric(20, 2) NOT NULL,
    period        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_line_id, kind)
);
CREATE INDEX volume_entries_member_idx ON volume_entries (member_id, period);

-- Ledger accounts. Member accounts carry a cached balance updated in the same
-- transaction as their postings (O(1) reads). System accounts do NOT cache a
-- balance: caching it would make one row every commission waits on.
CREATE TABLE accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id  uuid REFERENCES members (id),
    kind       text NOT NULL,
    currency   text NOT NULL,
    balance    numeric(20, 2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_owner_kind CHECK (
        (member_id IS NOT NULL AND kind IN ('pending', 'available', 'credit', 'reserved'))
        OR (member_id IS NULL AND kind LIKE 'system:%'))
);
CREATE UNIQUE INDEX accounts_member_kind_key ON accounts (member_id, kind) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_system_kind_key ON accounts (kind) WHERE member_id IS NULL;

-- One business event = one journal entry. idempotency_key is derived from
-- the event (e.g. commission:{line}:{beneficiary}:{level}), so a job that runs
-- twice finds it and does nothing.
CREATE TABLE journal_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    kind            text NOT NULL,
    reference       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE postings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id      bigint NOT NULL REFERENCES journal_entries (id),
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount        numeric(20, 2) NOT NULL CHECK (amount <> 0),
    -- Only for cached (member) accounts: the balance right after this posting.
    balance_after numeric(20, 2),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX postings_account_idx ON postings (account_id, id);
CREATE INDEX postings_entry_idx ON postings (entry_id);

-- One row per paid commission line, with everything needed to explain it.
CREATE TABLE commissions (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL REFERENCES orders (id),
    order_line_id    uuid NOT NULL REFERENCES order_lines (id),
    beneficiary_id   uuid NOT NULL REFERENCES members (id),
    kind             text NOT NULL,
    physical_level   integer NOT NULL,
    paid_level       integer NOT NULL,
    basis            numeric(20, 2) NOT NULL,
    rate             numeric(7, 4) NOT NULL,
    rule             text NOT NULL,
    plan_id          uuid NOT NULL REFERENCES plans (id),
    plan_version     integer NOT NULL,
    qualification    jsonb NOT NULL,
    amount           numeric(20, 2) NOT NULL,
    -- basis*rate minus amount: what rounding toward zero kept (reported, not paid).
    rounding_residue numeric(24, 6) NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'available', 'reversed')),
    release_at       timestamptz NOT NULL,
    released_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_line_id, beneficiary_id, paid_level, kind)
);
CREATE INDEX commissions_beneficiary_idx ON commissions (beneficiary_id, id);
CREATE INDEX commissions_order_idx ON commissions (order_id);

-- Shares not paid because the upline was not qualified (compression none).
CREATE TABLE commission_breakage (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_line_id  uuid NOT NULL REFERENCES order_lines (id),
    member_id      uuid NOT NULL REFERENCES members (id),
    physical_level integer NOT NULL,
    amount         numeric(20, 2) NOT NULL,
    reason         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_line_id, physical_level)
);

-- Raw provider events, deduplicated on the provider's own identity.
CREATE TABLE webhook_events (
    id           uuid PRIMARY KEY,
    provider     text NOT NULL,
    channel      text NOT NULL CHECK (channel IN ('payments', 'couriers')),
    dedupe_key   text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text,
    UNIQUE (provider, dedupe_key)
);

-- Outgoing email, written in the transaction of its cause; the notify job
-- sends it and marks it sent (at-least-once; a sent row is never resent).
CREATE TABLE notifications (
    id         uuid PRIMARY KEY,
    dedupe_key text NOT NULL UNIQUE,
    member_id  uuid REFERENCES members (id),
    to_email   text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    sent_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 of the secret; the secret is shown once.
CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('admin', 'storefront', 'member')),
    member_id  uuid REFERENCES members (id),
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_keys_member_role CHECK ((role = 'member') = (member_id IS NOT NULL))
);

-- HTTP Idempotency-Key records, scoped to the API key that used them.
-- response_status IS NULL means the first request is still in flight.
CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
