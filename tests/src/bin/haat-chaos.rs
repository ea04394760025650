//! `haat-chaos`: the chaos run, long form by hand (`scripts/chaos`).
//!
//! `haat-chaos [--orders N] [--workers N] [--seed S] [--kill-every-ms LO-HI]
//! [--concurrency N] [--drain-seconds N] [--api-kills N] [--campaign-buyers N]`
//! prints what it did and the result; exits 1 when an expectation broke.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_tests::chaos::{self, Config};

fn parse(args: &[String]) -> Result<Config> {
    let mut cfg = Config::short(rand::random());
    cfg.orders = 1000;
    cfg.workers = 4;
    cfg.drain_patience = Duration::from_secs(600);
    cfg.min_kills = 20;
    cfg.api_kills = 6;
    cfg.campaign_buyers = 5000;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().with_context(|| format!("{flag} must be a whole number"));
        match flag.as_str() {
            "--orders" => cfg.orders = usize::try_from(number()?)?,
            "--workers" => cfg.workers = usize::try_from(number()?)?.max(1),
            "--seed" => cfg.seed = number()?,
            "--concurrency" => cfg.concurrency = usize::try_from(number()?)?.max(1),
            "--drain-seconds" => cfg.drain_patience = Duration::from_secs(number()?),
            "--api-kills" => cfg.api_kills = usize::try_from(number()?)?,
            "--campaign-buyers" => cfg.campaign_buyers = usize::try_from(number()?)?,
            "--kill-every-ms" => {
                let (lo, hi) = value.split_once('-').context("--kill-every-ms is LO-HI, e.g. 500-2000")?;
                cfg.kill_every_ms = (lo.parse()?, hi.parse()?);
                if cfg.kill_every_ms.0 > cfg.kill_every_ms.1 {
                    bail!("--kill-every-ms: LO must not exceed HI");
                }
            }
            _ => bail!("unknown flag {flag}"),
        }
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = parse(&args)?;
    println!("{cfg:?}");
    let report = chaos::run(&cfg).await?;
    println!("{report}");
    std::process::exit(if report.failures.is_empty() { 0 } else { 1 });
}
