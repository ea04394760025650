-- A challenge's progress read through the indexes a review can use: a
-- member's own orders by buyer, a sponsor's recruits by sponsor (every
-- credited order reviews the live challenges, so this runs on the order
-- path). The definition is unchanged.
CREATE INDEX members_sponsor_idx ON members (sponsor_id) WHERE sponsor_id IS NOT NULL;

CREATE OR REPLACE FUNCTION challenge_progress(challenge_id uuid, member_id uuid) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE c.goal
        WHEN 'orders' THEN (
            SELECT count(*) FROM orders o
             WHERE o.buyer_id = challenge_progress.member_id AND o.cascaded_at IS NOT NULL
               AND o.commissionable_at >= c.starts_at AND o.commissionable_at < c.ends_at
               AND kept_order_value(o.id) > 0)::numeric
        WHEN 'spend' THEN (
            SELECT coalesce(sum(kept_order_value(o.id)), 0) FROM orders o
             WHERE o.buyer_id = challenge_progress.member_id AND o.cascaded_at IS NOT NULL
               AND o.commissionable_at >= c.starts_at AND o.commissionable_at < c.ends_at)
        ELSE (
            SELECT count(DISTINCT r.id) FROM members r JOIN orders o ON o.buyer_id = r.id
             WHERE r.sponsor_id = challenge_progress.member_id
               AND r.joined_at >= c.starts_at AND r.joined_at < c.ends_at
               AND o.cascaded_at IS NOT NULL
               AND o.commissionable_at >= c.starts_at AND o.commissionable_at < c.ends_at
               AND kept_order_value(o.id) > 0)::numeric
    END
      FROM challenges c WHERE c.id = challenge_progress.challenge_id $$;
