-- Every sign-in attempt on the dashboard (a key tried, a link asked for or
-- spent), by where it came from: more than a few in 15 minutes from one
-- address are refused before anything is checked. Pruned with the jobs.
CREATE TABLE sign_in_attempts (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    who  text NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_attempts_who_idx ON sign_in_attempts (who, at);
