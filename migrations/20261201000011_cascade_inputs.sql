-- What the cascade read for each commissionable order (DESIGN §10.3: every
-- commission line must be reproducible from its stored inputs). Written in
-- the cascade's own transaction, first run wins like the commission rows;
-- the audit re-runs the pure cascade on it and compares the lines.
CREATE TABLE cascade_inputs (
    order_id uuid PRIMARY KEY REFERENCES orders (id),
    plan_id uuid NOT NULL REFERENCES plans (id),
    inputs jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
