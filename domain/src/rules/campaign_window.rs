//! A campaign's window in time (DESIGN §7): instants written as a date mean
//! the campaign's local midnight (an end date means the end of that local
//! day), and a recurring campaign's window is cut into occurrences at the
//! ticks of its cron expression, read in its time zone.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Which end of the window an instant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// `starts_at`: a date means the start of that local day.
    Start,
    /// `ends_at`: a date means the end of that local day.
    End,
}

/// Reads `raw` as an RFC 3339 instant or, failing that, a `YYYY-MM-DD`
/// date at the campaign's local midnight (the next day's for an end).
pub fn instant(raw: &str, tz: Tz, edge: Edge) -> Result<DateTime<Utc>, &'static str> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "must be an RFC 3339 time or a date (YYYY-MM-DD)")?;
    let day = match edge {
        Edge::Start => date,
        Edge::End => date.succ_opt().ok_or("is out of range")?,
    };
    // A day that starts in a DST gap starts at its earliest existing instant.
    tz.from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .or_else(|| tz.from_local_datetime(&day.and_hms_opt(1, 0, 0)?).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or("has no local midnight in the campaign's time zone")
}

/// The end of the occurrence of a recurring campaign that starts at
/// `start`: the schedule's first tick after `start` (local to `tz`), but
/// never past the whole campaign's `end`.
pub fn occurrence_end(schedule: &cron::Schedule, tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    schedule.after(&start.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc)).filter(|t| *t < end).unwrap_or(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn a_date_only_end_means_the_end_of_that_local_day() {
        let dhaka: Tz = "Asia/Dhaka".parse().expect("zone");
        assert_eq!(instant("2023-10-10", dhaka, Edge::End), Ok(utc("2023-10-10T18:00:00Z")));
        assert_eq!(instant("2023-10-01", dhaka, Edge::Start), Ok(utc("2023-09-30T18:00:00Z")));
        assert_eq!(instant("2023-10-10T00:00:00Z", dhaka, Edge::End), Ok(utc("2023-10-10T00:00:00Z")));
        assert!(instant("10/10/2023", dhaka, Edge::End).is_err());
    }

    #[test]
    fn a_day_that_starts_in_a_dst_gap_starts_when_the_clock_resumes() {
        // Santiago skipped 00:00–01:00 local on 2023-09-03.
        let santiago: Tz = "America/Santiago".parse().expect("zone");
        assert_eq!(instant("2023-09-03", santiago, Edge::Start), Ok(utc("2023-09-03T04:00:00Z")));
    }

    #[test]
    fn weekly_occurrences_end_at_the_local_tick_and_never_past_the_campaign() {
        let dhaka: Tz = "Asia/Dhaka".parse().expect("zone");
        let sundays = cron::Schedule::from_str("0 0 18 * * SUN").expect("cron");
        let end = utc("2023-10-20T00:00:00Z");
        // Sunday 2023-10-01 18:00 in Dhaka is 12:00 UTC.
        let first = occurrence_end(&sundays, dhaka, utc("2023-09-30T00:00:00Z"), end);
        assert_eq!(first, utc("2023-10-01T12:00:00Z"));
        assert_eq!(occurrence_end(&sundays, dhaka, first, end), utc("2023-10-08T12:00:00Z"));
        assert_eq!(occurrence_end(&sundays, dhaka, utc("2023-10-15T12:00:00Z"), end), end);
    }
}
