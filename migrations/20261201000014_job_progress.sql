-- How far a long admin job has got (a plan simulation over many orders, a
-- period close), written on a connection of its own while the job's
-- transaction is still open, so an admin sees it before the job ends
-- (`GET /v1/admin/jobs/{id}` → progress). Pruned with the jobs.
CREATE TABLE job_progress (
    job_key    text PRIMARY KEY,
    unit       text NOT NULL,
    done       bigint NOT NULL CHECK (done >= 0),
    total      bigint CHECK (total >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
