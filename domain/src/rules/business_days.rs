//! Business days in the deployment's calendar: a weekly holiday (Friday in
//! Bangladesh) and a list of public holidays are not business days. A
//! seller's escrow is released a number of business days after delivery,
//! so a parcel delivered before a weekend or a holiday waits for the days
//! the business actually works.

use std::collections::{BTreeSet, HashSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The days the business does not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Weekly holidays (Bangladesh: Friday).
    pub weekly: HashSet<Weekday>,
    /// Public holidays, by date.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for Calendar {
    /// Bangladesh's weekly holiday and no public holiday listed.
    fn default() -> Self {
        Self { weekly: HashSet::from([Weekday::Fri]), holidays: BTreeSet::new() }
    }
}

impl Calendar {
    /// Whether the business works on `day`.
    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        !self.weekly.contains(&day.weekday()) && !self.holidays.contains(&day)
    }

    /// The day `n` business days after `from` (`from` itself never
    /// counts, worked or not): 0 is `from`. A calendar with every weekday
    /// off has no business day; it answers `None` rather than loop.
    pub fn add_business_days(&self, from: NaiveDate, n: u32) -> Option<NaiveDate> {
        if self.weekly.len() >= 7 {
            return if n == 0 { Some(from) } else { None };
        }
        let mut day = from;
        let mut left = n;
        while left > 0 {
            day = day.checked_add_days(Days::new(1))?;
            if self.is_business_day(day) {
                left -= 1;
            }
        }
        Some(day)
    }

    /// The day at whose start a hold of `n` business days after a delivery
    /// on `delivered` ends: the day after the `n`-th business day, so the
    /// seller waits `n` whole business days (the delivery day never counts).
    pub fn hold_ends_on(&self, delivered: NaiveDate, n: u32) -> Option<NaiveDate> {
        self.add_business_days(delivered, n)?.checked_add_days(Days::new(1))
    }
}

/// Parses `HAAT_WEEKLY_HOLIDAYS`-style text: weekday names or their first
/// three letters, comma-separated, any case (`fri`, `Friday,Saturday`);
/// empty is no weekly holiday.
pub fn parse_weekdays(text: &str) -> Result<HashSet<Weekday>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| w.parse::<Weekday>().map_err(|_| format!("{w:?} is not a weekday (mon … sun)")))
        .collect()
}

/// Parses `HAAT_PUBLIC_HOLIDAYS`-style text: ISO dates, comma-separated
/// (`2026-12-16,2027-02-21`).
pub fn parse_dates(text: &str) -> Result<BTreeSet<NaiveDate>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| format!("{d:?} is not a date (YYYY-MM-DD)")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn a_hold_ends_at_the_start_of_the_day_after_its_last_business_day() {
        let cal = Calendar { holidays: BTreeSet::from([day("2026-12-16")]), ..Calendar::default() };
        // Delivered Thursday 10 Dec: Sat 12 and Sun 13 are its two days.
        assert_eq!(cal.hold_ends_on(day("2026-12-10"), 2), Some(day("2026-12-14")));
        // Delivered Mon 14: Tue 15, then Thu 17 (Wed 16 is a holiday).
        assert_eq!(cal.hold_ends_on(day("2026-12-14"), 2), Some(day("2026-12-18")));
    }

    #[test]
    fn a_hold_skips_friday_and_a_listed_holiday() {
        // Thursday 10 Dec 2026 + 3 business days: Sat 12, Sun 13, then
        // Mon 14 — Friday 11 is the weekly holiday.
        let bangladesh = Calendar::default();
        assert_eq!(bangladesh.add_business_days(day("2026-12-10"), 3), Some(day("2026-12-14")));
        // Victory Day (Wed 16 Dec) listed: Tue 15 + 2 → Thu 17 is the first, Sat 19 the second.
        let with_victory_day = Calendar { holidays: BTreeSet::from([day("2026-12-16")]), ..Calendar::default() };
        assert_eq!(with_victory_day.add_business_days(day("2026-12-15"), 2), Some(day("2026-12-19")));
        assert_eq!(with_victory_day.add_business_days(day("2026-12-15"), 0), Some(day("2026-12-15")));
    }

    #[test]
    fn settings_text_reads_as_weekdays_and_dates() {
        assert_eq!(parse_weekdays("fri, Saturday"), Ok(HashSet::from([Weekday::Fri, Weekday::Sat])));
        assert_eq!(parse_weekdays(""), Ok(HashSet::new()));
        assert!(parse_weekdays("funday").is_err());
        assert_eq!(parse_dates("2026-12-16,2027-02-21").map(|d| d.len()), Ok(2));
        assert!(parse_dates("16/12/2026").is_err());
        let never = Calendar {
            weekly: (0..7).map(|i| Weekday::try_from(i).expect("weekday")).collect(),
            holidays: BTreeSet::new(),
        };
        assert_eq!(never.add_business_days(day("2026-12-10"), 1), None);
    }

    proptest! {
        #[test]
        fn the_day_reached_is_a_business_day_and_exactly_n_business_days_lie_after_the_start(
            start in 0u32..3_000, n in 1u32..40, holiday_offsets in proptest::collection::btree_set(1u64..60, 0..10)
        ) {
            let from = day("2026-01-01").checked_add_days(Days::new(u64::from(start))).expect("a day");
            let holidays = holiday_offsets.iter().map(|o| from.checked_add_days(Days::new(*o)).expect("a day")).collect();
            let calendar = Calendar { holidays, ..Calendar::default() };
            let to = calendar.add_business_days(from, n).expect("a business day");
            prop_assert!(calendar.is_business_day(to));
            let worked = from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| calendar.is_business_day(*d)).count();
            prop_assert_eq!(worked, n as usize);
        }
    }
}
