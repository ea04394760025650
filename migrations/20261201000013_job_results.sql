-- What a long admin job (a period close, a points expiry) did, written in
-- the job's own transaction so it commits with the work: the admin reads it
-- with the job (`GET /v1/admin/jobs/{id}`), by the job's key.
CREATE TABLE job_results (
    job_key     text PRIMARY KEY,
    result      jsonb NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
