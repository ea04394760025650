-- Draft plan versions (simulated before they are activated) and the
-- monthly period close: per-member volume, team bonuses and ranks.

-- A draft is never in effect; activation clears the flag once, for good.
ALTER TABLE plans ADD COLUMN draft boolean NOT NULL DEFAULT false;
