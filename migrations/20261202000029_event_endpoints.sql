-- Events out: admins register endpoints; every event is written in the
-- transaction of its cause, with one delivery per subscribed endpoint and
-- the job that sends it (the job table is the outbox). A delivery is sent
-- signed per Standard Webhooks and retried on the spec's schedule.
CREATE TABLE event_endpoints (
    id             uuid PRIMARY KEY,
    url            text NOT NULL,
    event_types    text[] NOT NULL,
    -- `whsec_` + base64 of the key: sent to the admin, kept to sign.
    secret         text NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    -- Since when every delivery to it has failed (null: the last succeeded).
    failing_since  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

CREATE TABLE events (
    -- The `webhook-id`: `msg_` + the event's uuid.
    id         uuid PRIMARY KEY,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The cause, so one cause emits one event (`order.paid:{order}`).
    cause_key  text NOT NULL UNIQUE
);

CREATE TABLE event_deliveries (
    id            uuid PRIMARY KEY,
    event_id      uuid NOT NULL REFERENCES events (id),
    endpoint_id   uuid NOT NULL REFERENCES event_endpoints (id),
    status        text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_status   integer,
    last_error    text,
    next_at       timestamptz,
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- A replay is a delivery of its own (same event, same webhook-id).
    replay_of     uuid REFERENCES event_deliveries (id)
);
CREATE INDEX event_deliveries_endpoint ON event_deliveries (endpoint_id, id);

CREATE TABLE event_attempts (
    delivery_id uuid NOT NULL REFERENCES event_deliveries (id),
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL,
    status      integer,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);
