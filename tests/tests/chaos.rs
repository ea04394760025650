//! The chaos run's short form (the long form: `scripts/chaos`).

use haat_tests::chaos::{self, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_emails_come_out_exact_through_killed_workers_a_killed_api_a_crashed_postgres_an_smtp_outage_and_duplicated_shuffled_webhooks()
 {
    let seed: u64 = std::env::var("HAAT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let report = chaos::run(&Config::short(seed)).await.expect("the chaos run is carried out");
    println!("{report}");
    assert!(report.failures.is_empty(), "{report}");
    assert!(report.kills >= 3, "{report}");
    assert_eq!((report.postgres_restarts, report.postgres_crashes), (1, 1), "{report}");
    assert_eq!(report.api_kills, 2, "{report}");
    assert!(report.smtp_down_seconds > 0.0 && report.emails > 0, "{report}");
    // Every SSLCommerz payment confirmed, through the 500s on purpose.
    assert!(report.validation_calls >= report.sslcommerz + report.validation_500s, "{report}");
    assert!(report.sslcommerz > 0 && report.validation_500s > 0, "{report}");
    assert_eq!(report.batch_kills, 1, "the settlement was killed mid-batch: {report}");
    assert!(report.duplicates_same_id > 0 && report.duplicates_new_id > 0 && report.returned > 0, "{report}");
}
