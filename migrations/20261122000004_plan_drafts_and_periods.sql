-- Draft plan versions (simulated before they are activated) and the
-- monthly period close: per-member volume, team bonuses and ranks.

-- A draft is never in effect; activation clears the flag once, for good.
ALTER TABLE plans ADD COLUMN draft boolean NOT NULL DEFAULT false;

-- One row per closed period: the close runs once, whoever runs it first
-- inserts this row, and everyone after finds it.
CREATE TABLE period_closes (
    period      text PRIMARY KEY,
    plan_id     uuid REFERENCES plans (id),
    time_zone   text NOT NULL,
    members     integer NOT NULL,
    bonuses     integer NOT NULL,
    bonus_total numeric(20, 2) NOT NULL,
    closed_at   timestamptz NOT NULL DEFAULT now()
);

-- Each member's figures of a closed period (members with volume or a rank).
CREATE TABLE member_periods (
    period       text NOT NULL REFERENCES period_closes (period),
    member_id    uuid NOT NULL REFERENCES members (id),
    personal_pv  numeric(20, 2) NOT NULL,
    personal_bv  numeric(20, 2) NOT NULL,
    group_pv     numeric(20, 2) NOT NULL,
    group_bv     numeric(20, 2) NOT NULL,
    paid_as_rank text,
    highest_rank text,
    PRIMARY KEY (period, member_id)
);

-- The highest rank a member ever reached: it never drops.
CREATE TABLE member_ranks (
    member_id       uuid PRIMARY KEY REFERENCES members (id),
    highest_rank    text NOT NULL,
    achieved_period text NOT NULL
);

-- Team-target bonuses paid at a period close, one per (period, member, bonus),
-- each with its ledger entry bonus:{period}:{member}:{bonus}.
CREATE TABLE period_bonuses (
    id         uuid PRIMARY KEY,
    period     text NOT NULL REFERENCES period_closes (period),
    member_id  uuid NOT NULL REFERENCES members (id),
    bonus      text NOT NULL,
    basis      numeric(20, 2) NOT NULL,
    amount     numeric(20, 2) NOT NULL CHECK (amount > 0),
    plan_id    uuid NOT NULL REFERENCES plans (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (period, member_id, bonus)
);
CREATE INDEX period_bonuses_member_idx ON period_bonuses (member_id, period);
