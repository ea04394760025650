//! The command line: `haat-worker [--queues LIST] [--concurrency N]` runs
//! job processes; `haat-worker audit` checks the database and exits 1 on
//! any violation.

use anyhow::{Context, Result, bail};

use crate::{QueueKind, parse_queues};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve these queues, each with its concurrency.
    Run(Vec<(QueueKind, usize)>),
    /// Run the audit once and exit.
    Audit,
}

/// Parses the arguments (without the program name). `--queues` (names,
/// each optionally `=N`) wins over `HAAT_WORKER_QUEUES` (`env_queues`);
/// `--concurrency` is the concurrency of queues given without `=N`.
pub fn parse(args: &[String], env_queues: &str) -> Result<Command> {
    let mut queues = env_queues.to_owned();
    let mut concurrency = 2;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "audit" if args.len() == 1 => return Ok(Command::Audit),
            "--queues" => queues = it.next().context("--queues needs a list, e.g. webhooks,commission=4")?.clone(),
            "--concurrency" => {
                let n = it.next().context("--concurrency needs a number")?;
                concurrency = n.parse().context("--concurrency must be a whole number")?;
            }
            other => bail!("unknown argument {other:?}: expected `audit`, or --queues LIST and --concurrency N"),
        }
    }
    Ok(Command::Run(parse_queues(&queues, concurrency)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_choose_the_queues_and_their_concurrency_over_the_environment() {
        let cmd = parse(&args("--queues webhooks,commission=4 --concurrency 3"), "holds").expect("parses");
        assert_eq!(cmd, Command::Run(vec![(QueueKind::Webhooks, 3), (QueueKind::Commission, 4)]));
        let cmd = parse(&[], "holds=5").expect("parses");
        assert_eq!(cmd, Command::Run(vec![(QueueKind::Holds, 5)]));
        let Command::Run(all) = parse(&args("--concurrency 8"), "").expect("parses") else { panic!("not run") };
        assert_eq!(all.len(), QueueKind::ALL.len());
        assert!(all.iter().all(|(_, n)| *n == 8));
    }

    #[test]
    fn audit_is_a_command_of_its_own_and_bad_arguments_are_named() {
        assert_eq!(parse(&args("audit"), "").expect("parses"), Command::Audit);
        for bad in ["audit --queues holds", "--queues", "--concurrency x", "--concurrency 0", "--queues nope", "--fast"]
        {
            assert!(parse(&args(bad), "").is_err(), "{bad}");
        }
    }
}
