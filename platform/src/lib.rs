//! Process plumbing shared by every haat program (`haat-api`,
//! `haat-worker`, the benchmark and the tests): typed settings read and
//! validated once at start-up, the database pool and migrations, the
//! embedded Postgres cluster of the local default, logging and the
//! shutdown signal, and the Prometheus recorder. It holds no business rule:
//! those live in `haat_domain`, which knows nothing of processes.

pub mod db;
pub mod embedded_pg;
pub mod observability;
pub mod runtime;
pub mod settings;
