-- Job wake-ups sent after the commit, not inside it.
--
-- A transaction that notifies takes one lock for the whole cluster at its
-- commit and holds it through its WAL flush (Postgres serialises the
-- notification queue that way), so every commit that wrote a job due now
-- waited for every other one: under load, most of an order's lag was
-- COMMITs waiting on that lock. The job table's trigger now stays quiet on
-- connections that say they wake the queues themselves (`haat.job_wakeups`
-- set to `after_commit` when they connect); they call `wake_job_queues`
-- once their transaction has committed. Any other client (the queue
-- library's own tools, a psql session) is notified as before.
CREATE OR REPLACE FUNCTION apalis.notify_new_jobs() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.run_at <= now() AND current_setting('haat.job_wakeups', true) IS DISTINCT FROM 'after_commit' THEN
        PERFORM pg_notify(
            'apalis::job::insert',
            json_build_object('job_type', NEW.job_type, 'id', NEW.id, 'run_at', NEW.run_at)::text
        );
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Wakes the workers of `queues`, in a transaction of its own that writes
-- no data. Its commit is not waited for on disk: a wake-up lost in a crash
-- costs one due check (at most a second), never a job, so it holds the
-- notification lock for no flush.
CREATE FUNCTION wake_job_queues(queues text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_notify('apalis::job::insert', json_build_object('job_type', q)::text) FROM unnest(queues) AS q;
END;
$$;
