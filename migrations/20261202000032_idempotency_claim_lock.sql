-- A request's claim on its Idempotency-Key is now held by a session
-- advisory lock of the connection running it, so it dies with that
-- connection (the api killed, the database crashed) instead of after a
-- timer. Only a claim whose request went on outside one connection (a
-- payment session: the gateway is called between transactions) keeps the
-- timer; `detached` marks it.
ALTER TABLE idempotency_keys ADD COLUMN detached boolean NOT NULL DEFAULT false;
