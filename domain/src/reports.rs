//! Reports a finance team signs off: figures over an interval, read from
//! the ledger and the stored facts in one snapshot, never from a second
//! copy kept on the side. Owns the interval rule (a date is midnight in the
//! report's time zone; `from` inclusive, `to` exclusive). Never writes.

use chrono::{DateTime, DurationRound, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;

use crate::error::{DomainResult, Problems};

pub mod analytics;
pub mod cohorts;
pub mod commissions;
pub mod liabilities;
pub mod payouts;
pub mod ranks;
pub mod sales;

/// The longest interval one report covers: ten years and a leap day or
/// three, so a report's work is bounded however it is asked.
pub const MAX_DAYS: i64 = 3_660;

/// The interval and time zone of a report, parsed once at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// The zone dates were read in (and day groups are cut in).
    pub time_zone: Tz,
}

/// What a report answers about its interval, before its own figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Heading {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// IANA time zone.
    pub time_zone: String,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// When the figures are from: the database's clock at the snapshot, or
    /// on a replica the commit time of the last transaction it replayed.
    pub as_of: DateTime<Utc>,
}

impl Interval {
    /// Parses `from`, `to` (each a date, midnight in the zone, or an RFC 3339
    /// time) and `time_zone` (IANA; `default_zone` when absent). Every
    /// problem names its parameter.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        time_zone: Option<&str>,
        default_zone: Tz,
    ) -> DomainResult<Self> {
        let mut p = Problems::default();
        let zone = match time_zone {
            None => Some(default_zone),
            Some(raw) => {
                p.check("time_zone", raw.parse::<Tz>().map_err(|_| "must be an IANA time zone, e.g. Asia/Dhaka"))
            }
        };
        let zone = zone.unwrap_or(default_zone);
        let from = p.check("from", instant(from, zone));
        let to = p.check("to", instant(to, zone));
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                p.add("to", "must be after from");
            } else if (t - f).num_days() > MAX_DAYS {
                p.add("to", format!("must be at most {MAX_DAYS} days after from"));
            }
        }
        p.finish()?;
        Ok(Self { from: from.unwrap_or_default(), to: to.unwrap_or_default(), time_zone: zone })
    }

    /// The heading of a report over this interval.
    pub fn heading(&self, currency: &str, as_of: DateTime<Utc>) -> Heading {
        Heading {
            from: self.from,
            to: self.to,
            time_zone: self.time_zone.name().to_owned(),
            currency: currency.to_owned(),
            as_of,
        }
    }
}

/// Where a report over an interval reads the members' postings: whole UTC
/// hours from their hourly summary (`ledger_hours`, written with the
/// postings and checked by the audit), the part hours at the interval's
/// edges from the postings themselves (`member_postings`). Every instant
/// before `to` is in exactly one part:
///
/// - summary hours before `floor_from`;
/// - postings in `[floor_from, min(summary_from, to))` (the part hour `from` falls in);
/// - summary hours in `[summary_from, summary_to)`;
/// - postings in `[max(summary_from, summary_to), to)` (the part hour before `to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The hour `from` falls in.
    pub floor_from: DateTime<Utc>,
    /// The first whole hour from `from` on.
    pub summary_from: DateTime<Utc>,
    /// The hour `to` falls in (where the last part hour begins).
    pub summary_to: DateTime<Utc>,
}

impl Interval {
    /// How this interval is read. With `local_days` (rows grouped by the
    /// local day or month) an hour of the summary must lie within one local
    /// day, which holds when every day of the interval starts on a whole
    /// UTC hour in the report's zone; otherwise (Asia/Kolkata, say) the
    /// interval is read wholly from the postings, which is exact and slower.
    pub fn split(&self, local_days: bool) -> Split {
        let floor = |t: DateTime<Utc>| t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t);
        let floor_from = floor(self.from);
        let summary_from = if floor_from == self.from { floor_from } else { floor_from + chrono::Duration::hours(1) };
        if local_days && !self.days_start_on_whole_hours() {
            return Split { floor_from, summary_from: self.to, summary_to: self.to };
        }
        Split { floor_from, summary_from, summary_to: floor(self.to) }
    }

    fn days_start_on_whole_hours(&self) -> bool {
        use chrono::Offset;
        let whole = |t: DateTime<Utc>| {
            self.time_zone.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() % 3600 == 0
        };
        let mut at = self.from;
        while at < self.to {
            if !whole(at) {
                return false;
            }
            at += chrono::Duration::days(1);
        }
        whole(self.to)
    }
}

/// When the figures about to be read are from: the replay time of the
/// last transaction a standby replayed, or the clock of a primary.
pub async fn as_of(conn: &mut sqlx::PgConnection) -> DomainResult<DateTime<Utc>> {
    Ok(sqlx::query_scalar!(r#"SELECT coalesce(pg_last_xact_replay_timestamp(), now()) AS "as_of!""#)
        .fetch_one(conn)
        .await?)
}

/// Reads `group_by`: absent is `default`, an unknown word is refused
/// naming the parameter and the words it takes.
pub(crate) fn group_by<G>(raw: Option<&str>, default: G, parse: fn(&str) -> Option<G>, words: &str) -> DomainResult<G> {
    raw.map_or(Ok(default), |word| {
        parse(word).ok_or_else(|| crate::error::DomainError::invalid("group_by", format!("must be {words}")))
    })
}

/// Splits a grouped query's rows (`GROUP BY GROUPING SETS ((key), ())`,
/// each marked whether it is the grand total) into the groups and the
/// total, which such a query always has, even over no rows.
pub(crate) fn groups_and_total<R>(found: impl IntoIterator<Item = (bool, R)>) -> DomainResult<(Vec<R>, R)> {
    let mut groups = Vec::new();
    let mut total = None;
    for (is_total, row) in found {
        if is_total { total = Some(row) } else { groups.push(row) }
    }
    let total =
        total.ok_or_else(|| crate::error::DomainError::Internal(anyhow::anyhow!("the totals row is missing")))?;
    Ok((groups, total))
}

/// A grouped report's row as it is read: one group, or the totals (which
/// such a report reads last, after every group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouped<R> {
    /// One group's figures.
    Group(R),
    /// Every group's figures.
    Total(R),
}

impl<R> Grouped<R> {
    /// A row of a `GROUPING SETS ((key), ())` query, marked whether it is
    /// the grand total.
    pub fn of(is_total: bool, row: R) -> Self {
        if is_total { Self::Total(row) } else { Self::Group(row) }
    }
}

/// The rows of a grouped report read one at a time from the database, so a
/// caller can send them on without holding them all (a report by member
/// has a row per member who earned).
pub type RowStream<'c, R> = BoxStream<'c, DomainResult<Grouped<R>>>;

/// Reads a grouped report's rows whole: its groups and its totals.
pub async fn collect<R>(mut rows: RowStream<'_, R>) -> DomainResult<(Vec<R>, R)> {
    let mut found = Vec::new();
    while let Some(row) = rows.next().await {
        found.push(match row? {
            Grouped::Group(r) => (false, r),
            Grouped::Total(r) => (true, r),
        });
    }
    groups_and_total(found)
}

/// The first instant of `date` in `zone` (a zone that skips midnight, at
/// a DST change, starts the day at the first instant it has).
fn day_start(date: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&date.and_hms_opt(0, 0, 0)?).earliest().map(|t| t.to_utc())
}

/// One calendar month of an interval, in its time zone, cut to the interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    /// Its start (or the interval's, if later).
    pub starts: DateTime<Utc>,
    /// Its end, exclusive (or the interval's, if earlier).
    pub ends: DateTime<Utc>,
}

impl Interval {
    /// The local calendar months the interval touches, oldest first.
    pub fn months(&self) -> Vec<Month> {
        use chrono::Datelike;
        let mut out = Vec::new();
        let first = self.from.with_timezone(&self.time_zone).date_naive().with_day(1);
        let mut month = first;
        while let Some(day) = month {
            let Some(start) = day_start(day, self.time_zone) else { break };
            if start >= self.to {
                break;
            }
            let next = day.checked_add_months(chrono::Months::new(1));
            let end = next.and_then(|n| day_start(n, self.time_zone)).unwrap_or(self.to);
            out.push(Month {
                label: day.format("%Y-%m").to_string(),
                starts: start.max(self.from),
                ends: end.min(self.to),
            });
            month = next;
        }
        out
    }
}

/// A date (`2026-11-01`: its first instant in `zone`) or an RFC 3339 time.
fn instant(raw: Option<&str>, zone: Tz) -> Result<DateTime<Utc>, String> {
    let raw = raw.ok_or("is required: a date (2026-11-01) or an RFC 3339 time")?;
    let at = if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        day_start(date, zone).ok_or("is not a time in that zone")?
    } else {
        DateTime::parse_from_rfc3339(raw)
            .map_err(|_| "must be a date (2026-11-01) or an RFC 3339 time (2026-11-01T00:00:00+06:00)")?
            .to_utc()
    };
    crate::input::plausible(at).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(from: &str, to: &str, zone: Option<&str>) -> DomainResult<Interval> {
        Interval::parse(Some(from), Some(to), zone, chrono_tz::Asia::Dhaka)
    }

    #[test]
    fn the_months_of_an_interval_are_cut_at_local_midnight_and_to_the_interval() {
        let i = parse("2026-09-15", "2026-11-01", None).expect("parses");
        let months: Vec<(String, String, String)> =
            i.months().into_iter().map(|m| (m.label, m.starts.to_rfc3339(), m.ends.to_rfc3339())).collect();
        assert_eq!(
            months,
            [
                ("2026-09".into(), "2026-09-14T18:00:00+00:00".into(), "2026-09-30T18:00:00+00:00".into()),
                ("2026-10".into(), "2026-09-30T18:00:00+00:00".into(), "2026-10-31T18:00:00+00:00".into()),
            ]
        );
    }

    #[test]
    fn a_date_is_midnight_in_the_reports_time_zone() {
        let i = parse("2026-11-01", "2026-12-01", None).expect("parses");
        assert_eq!(i.from.to_rfc3339(), "2026-10-31T18:00:00+00:00");
        assert_eq!(i.to.to_rfc3339(), "2026-11-30T18:00:00+00:00");
        let utc = parse("2026-11-01", "2026-11-01T12:00:00+06:00", Some("UTC")).expect("parses");
        assert_eq!(
            (utc.from.to_rfc3339(), utc.to.to_rfc3339()),
            ("2026-11-01T00:00:00+00:00".into(), "2026-11-01T06:00:00+00:00".into())
        );
    }

    #[test]
    fn a_split_reads_whole_hours_from_the_summary_and_part_hours_from_the_postings() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        let aligned = parse("2026-11-01", "2026-12-01", None).expect("parses").split(true);
        assert_eq!(
            (aligned.floor_from, aligned.summary_from, aligned.summary_to),
            (at("2026-10-31T18:00:00Z"), at("2026-10-31T18:00:00Z"), at("2026-11-30T18:00:00Z"))
        );
        let ragged = parse("2026-11-01T10:20:00Z", "2026-11-02T08:05:00Z", Some("UTC")).expect("parses").split(true);
        assert_eq!(
            (ragged.floor_from, ragged.summary_from, ragged.summary_to),
            (at("2026-11-01T10:00:00Z"), at("2026-11-01T11:00:00Z"), at("2026-11-02T08:00:00Z"))
        );
        // Half-hour days: grouped by day, all from the postings; not grouped, whole UTC hours still serve.
        let kolkata = parse("2026-11-01", "2026-11-03", Some("Asia/Kolkata")).expect("parses");
        let by_day = kolkata.split(true);
        assert_eq!((by_day.summary_from, by_day.summary_to), (kolkata.to, kolkata.to));
        let whole = kolkata.split(false);
        assert_eq!(
            (whole.floor_from, whole.summary_from, whole.summary_to),
            (at("2026-10-31T18:00:00Z"), at("2026-10-31T19:00:00Z"), at("2026-11-02T18:00:00Z"))
        );
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let field = |r: DomainResult<Interval>| match r {
            Err(crate::error::DomainError::Invalid(problems)) => {
                problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(field(parse("2026-11-31", "2026-12-01", None)), ["from"]);
        assert_eq!(field(parse("2026-12-01", "2026-11-01", None)), ["to"]);
        assert_eq!(field(parse("2026-11-01", "2026-12-01", Some("Mars/Olympus"))), ["time_zone"]);
        assert_eq!(field(parse("2001-01-01", "2026-12-01", None)), ["to"]);
        assert_eq!(field(Interval::parse(None, None, None, chrono_tz::UTC)), ["from", "to"]);
    }
}
