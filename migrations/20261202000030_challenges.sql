-- Challenges: an admin's goal for members over a window, measured from
-- facts haat already keeps (credited orders, what was kept of them, the
-- members a member sponsored), and a reward of points, a badge or both.
CREATE TABLE challenges (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    goal       text NOT NULL CHECK (goal IN ('orders', 'spend', 'recruits')),
    target     numeric NOT NULL CHECK (target > 0),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    time_zone  text NOT NULL,
    points     numeric(14, 2) CHECK (points > 0),
    badge      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT challenges_window CHECK (ends_at > starts_at),
    CONSTRAINT challenges_reward CHECK (points IS NOT NULL OR badge IS NOT NULL)
);
CREATE INDEX challenges_window_idx ON challenges (starts_at, ends_at);

-- One row per member who has had a fact counted for a challenge: the row
-- every review of that member locks, so two orders reviewed at once award
-- once. `times` counts completions; each completion and each undoing is
-- a ledger entry keyed by it.
CREATE TABLE challenge_awards (
    challenge_id uuid NOT NULL REFERENCES challenges (id),
    member_id    uuid NOT NULL REFERENCES members (id),
    status       text NOT NULL CHECK (status IN ('open', 'awarded', 'undone')),
    times        integer NOT NULL DEFAULT 0,
    awarded_at   timestamptz,
    undone_at    timestamptz,
    PRIMARY KEY (challenge_id, member_id)
);
CREATE INDEX challenge_awards_member_idx ON challenge_awards (member_id);

-- A credited order counts for a window when it was confirmed in it and
-- something of it is kept: what was returned of it no longer counts.
CREATE FUNCTION kept_order_value(order_id uuid) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(sum(line_after_discount(l.unit_price * (l.quantity - l.reversed_quantity),
                                                   o.subtotal, o.discount)), 0)
            FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id = kept_order_value.order_id $$;

-- A member's progress toward a challenge: the one definition the award
-- and the member's view both read.
CREATE FUNCTION challenge_progress(challenge_id uuid, member_id uuid) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    WITH c AS (SELECT * FROM challenges WHERE id = challenge_progress.challenge_id),
    counted AS (
        SELECT o.buyer_id, kept_order_value(o.id) AS kept
          FROM orders o, c
         WHERE o.cascaded_at IS NOT NULL AND o.commissionable_at >= c.starts_at AND o.commissionable_at < c.ends_at
           AND (o.buyer_id = challenge_progress.member_id
                OR (c.goal = 'recruits' AND o.buyer_id IN (
                        SELECT r.id FROM members r
                         WHERE r.sponsor_id = challenge_progress.member_id
                           AND r.joined_at >= c.starts_at AND r.joined_at < c.ends_at)))
    )
    SELECT CASE c.goal
        WHEN 'orders' THEN (SELECT count(*) FROM counted
                             WHERE buyer_id = challenge_progress.member_id AND kept > 0)::numeric
        WHEN 'spend' THEN (SELECT coalesce(sum(kept), 0) FROM counted WHERE buyer_id = challenge_progress.member_id)
        ELSE (SELECT count(DISTINCT buyer_id) FROM counted
               WHERE buyer_id <> challenge_progress.member_id AND kept > 0)::numeric
    END FROM c $$;
