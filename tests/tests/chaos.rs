//! The chaos run's short form (the long form: `scripts/chaos`).

use haat_tests::chaos::{self, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_come_out_exact_through_killed_workers_a_postgres_restart_and_duplicated_shuffled_webhooks() {
    let seed: u64 = std::env::var("HAAT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let report = chaos::run(&Config::short(seed)).await.expect("the chaos run is carried out");
    println!("{report}");
    assert!(report.failures.is_empty(), "{report}");
    assert!(report.kills >= 3, "{report}");
    assert_eq!(report.postgres_restarts, 1);
    assert!(report.duplicates_same_id > 0 && report.duplicates_new_id > 0 && report.returned > 0, "{report}");
}
