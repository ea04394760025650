-- The members' postings as the reports read them: each with its member,
-- account bucket, currency, entry kind, and for the commission family
-- (commission, release, commission_cancelled, clawback) the commission's
-- kind and paid level; a commission entry also carries the line's
-- rounding residue (what rounding toward zero kept back). One definition,
-- read by the summary below, its audit and the reports' edges.
CREATE VIEW member_postings AS
SELECT p.id, p.entry_id, p.account_id, p.amount, p.created_at,
       date_trunc('hour', p.created_at, 'UTC') AS hour,
       a.member_id, a.kind AS account, a.currency,
       e.kind AS entry_kind,
       coalesce(c.kind, '') AS commission_kind,
       coalesce(c.paid_level, 0) AS level,
       CASE WHEN e.kind = 'commission' THEN coalesce(c.rounding_residue, 0) ELSE 0 END::numeric(24, 6) AS rounding
  FROM postings p
  JOIN accounts a ON a.id = p.account_id AND a.member_id IS NOT NULL
  JOIN journal_entries e ON e.id = p.entry_id
  LEFT JOIN commissions c
    ON c.id = CASE WHEN e.kind IN ('commission', 'release', 'commission_cancelled', 'clawback')
                   THEN e.reference::uuid END;

-- The members' postings summed per member, bucket, UTC hour, entry kind,
-- commission kind and level: what the finance reports read instead of
-- joining every posting to its account, entry and commission. Written by
-- the ledger in the transaction of the postings it sums (under the lock
-- of the account they move, so it adds no waiting), checked by the audit
-- (`ledger_summary_matches_postings`), never read for a balance.
CREATE TABLE ledger_hours (
    member_id       uuid NOT NULL REFERENCES members (id),
    account         text NOT NULL,
    hour            timestamptz NOT NULL,
    entry_kind      text NOT NULL,
    commission_kind text NOT NULL,
    level           integer NOT NULL,
    currency        text NOT NULL,
    amount          numeric(20, 2) NOT NULL,
    rounding        numeric(24, 6) NOT NULL,
    postings        bigint NOT NULL,
    PRIMARY KEY (member_id, account, hour, entry_kind, commission_kind, level)
);
CREATE INDEX ledger_hours_hour_idx ON ledger_hours USING brin (hour);

INSERT INTO ledger_hours
SELECT member_id, account, hour, entry_kind, commission_kind, level, currency,
       sum(amount), sum(rounding), count(*)
  FROM member_postings
 GROUP BY member_id, account, hour, entry_kind, commission_kind, level, currency;

-- The reports read the postings of an interval's edges (its first and
-- last part hour) by time; postings are written in time order, so a block
-- range index finds them for next to nothing on each insert.
CREATE INDEX postings_created_brin ON postings USING brin (created_at);
CREATE INDEX commission_breakage_created_brin ON commission_breakage USING brin (created_at);
