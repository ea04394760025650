-- A period close computed for review (HAAT_PERIOD_CLOSE_MODE=review): its
-- figures and bonus lines wait here until an admin commits the run (which
-- posts exactly these, once) or discards it (and closes again to recompute).
CREATE TABLE period_runs (
    id             uuid PRIMARY KEY,
    period         text NOT NULL,
    status         text NOT NULL CHECK (status IN ('computed', 'committed', 'discarded')),
    plan_id        uuid REFERENCES plans (id),
    time_zone      text NOT NULL,
    members        integer NOT NULL,
    bonuses        integer NOT NULL,
    bonus_total    numeric(20, 2) NOT NULL,
    -- What the run read of the period's volume: committing refuses when it
    -- has changed since (an order credited late, a return).
    volume_entries bigint NOT NULL,
    volume_pv      numeric(20, 2) NOT NULL,
    volume_bv      numeric(20, 2) NOT NULL,
    computed_at    timestamptz NOT NULL,
    decided_at     timestamptz
);
-- At most one run of a period waits for a decision.
CREATE UNIQUE INDEX period_runs_open_key ON period_runs (period) WHERE status = 'computed';

CREATE TABLE period_run_figures (
    run_id       uuid NOT NULL REFERENCES period_runs (id),
    member_id    uuid NOT NULL REFERENCES members (id),
    personal_pv  numeric(20, 2) NOT NULL,
    personal_bv  numeric(20, 2) NOT NULL,
    group_pv     numeric(20, 2) NOT NULL,
    group_bv     numeric(20, 2) NOT NULL,
    paid_as_rank text,
    highest_rank text,
    advanced     boolean NOT NULL,
    PRIMARY KEY (run_id, member_id)
);

CREATE TABLE period_run_bonuses (
    run_id    uuid NOT NULL REFERENCES period_runs (id),
    member_id uuid NOT NULL REFERENCES members (id),
    bonus     text NOT NULL,
    basis     numeric(20, 2) NOT NULL,
    amount    numeric(20, 2) NOT NULL,
    reason    text NOT NULL,
    PRIMARY KEY (run_id, member_id, bonus)
);
