//! The limits every piece of outside input meets before it reaches a rule
//! or the database: text lengths counted in characters (a Bengali name is
//! as long as it reads, not as its UTF-8 bytes), no NUL characters
//! (Postgres text cannot hold one), and instants inside the years a shop's
//! records can be about (so date arithmetic never overflows).

use chrono::{DateTime, Datelike, Utc};

use crate::error::Problems;

/// Why a text field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty (or only spaces) where a value is needed, or too long.
    #[error("must be 1 to {0} characters")]
    Length(usize),
    /// Longer than allowed where empty is fine.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Holds U+0000, which no text column can store.
    #[error("must not contain a NUL character (U+0000)")]
    Nul,
}

/// The number of characters (Unicode scalar values) of `s`.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Whether `s` reads as an email address (at most 254 characters, one
/// `@`, a dot in the domain).
pub fn looks_like_email(s: &str) -> bool {
    chars(s) <= 254 && s.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains('@'))
}

/// Whether `s` reads as a phone number: at most 20 digits, `+`, `-` or spaces.
pub fn looks_like_phone(s: &str) -> bool {
    s.len() <= 20 && s.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
}

/// `s` cut to at most `max` characters (for texts sent to providers and
/// stored reasons, whose limits count characters, not bytes).
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A required text: not blank, at most `max` characters, no NUL.
pub fn required(s: &str, max: usize) -> Result<(), TextError> {
    no_nul(s)?;
    if s.trim().is_empty() || chars(s) > max {
        return Err(TextError::Length(max));
    }
    Ok(())
}

/// A text that may be empty: at most `max` characters, no NUL.
pub fn bounded(s: &str, max: usize) -> Result<(), TextError> {
    no_nul(s)?;
    if chars(s) > max {
        return Err(TextError::TooLong(max));
    }
    Ok(())
}

/// Refuses U+0000.
pub fn no_nul(s: &str) -> Result<(), TextError> {
    if s.contains('\0') { Err(TextError::Nul) } else { Ok(()) }
}

/// Records a problem under `field` unless `s` is a required text of at
/// most `max` characters.
pub fn check_required(p: &mut Problems, field: &str, s: &str, max: usize) -> bool {
    p.check(field, required(s, max)).is_some()
}

/// Records a problem under `field` unless `s` is at most `max` characters.
pub fn check_bounded(p: &mut Problems, field: &str, s: &str, max: usize) -> bool {
    p.check(field, bounded(s, max)).is_some()
}

/// The earliest and latest years an instant we are sent may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;

/// Why an instant was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a time in the years 2000 to 9999")]
pub struct ImplausibleInstant;

/// Refuses an instant outside [`YEARS`]: adding a grace or a hold to one
/// near chrono's or Postgres's limits would overflow.
pub fn plausible(at: DateTime<Utc>) -> Result<DateTime<Utc>, ImplausibleInstant> {
    if YEARS.contains(&at.year()) { Ok(at) } else { Err(ImplausibleInstant) }
}

/// A window an admin gave as two RFC 3339 times or local dates (the end
/// date inclusive) in `time_zone` (default `default`): its zone and its
/// bounds, each problem recorded under its field. A campaign's and a
/// challenge's windows are read by this one rule.
pub fn window(
    p: &mut Problems,
    (starts_at, ends_at): (&str, &str),
    time_zone: Option<&str>,
    default: chrono_tz::Tz,
) -> (chrono_tz::Tz, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    use crate::rules::campaign_window::{Edge, instant};
    let zone = match time_zone {
        None => default,
        Some(raw) => p
            .check(
                "time_zone",
                raw.parse::<chrono_tz::Tz>().map_err(|_| "must be an IANA time zone such as Asia/Dhaka"),
            )
            .unwrap_or(default),
    };
    let starts = p.check("starts_at", instant(starts_at, zone, Edge::Start));
    let ends = p.check("ends_at", instant(ends_at, zone, Edge::End));
    // Graces and holds are added to these: far-off years would overflow.
    let starts = starts.and_then(|at| p.check("starts_at", plausible(at)));
    let ends = ends.and_then(|at| p.check("ends_at", plausible(at)));
    if let (Some(s), Some(e)) = (starts, ends)
        && e <= s
    {
        p.add("ends_at", "must be after starts_at");
    }
    (zone, starts, ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_so_a_bengali_name_of_200_letters_fits_and_201_does_not() {
        let name = "আ".repeat(200);
        assert_eq!(name.len(), 600, "three bytes a letter");
        assert_eq!(required(&name, 200), Ok(()));
        assert_eq!(required(&format!("{name}ক"), 200), Err(TextError::Length(200)));
        assert_eq!(required("   ", 200), Err(TextError::Length(200)));
        assert_eq!(bounded("", 10), Ok(()));
    }

    #[test]
    fn a_nul_character_anywhere_is_refused() {
        for s in ["\0", "Rahim\0", "\0Karim", "রহি\0ম"] {
            assert_eq!(required(s, 200), Err(TextError::Nul), "{s:?}");
            assert_eq!(bounded(s, 200), Err(TextError::Nul), "{s:?}");
        }
    }

    #[test]
    fn instants_outside_the_years_2000_to_9999_are_refused() {
        let ok = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").expect("t").to_utc();
        assert_eq!(plausible(ok), Ok(ok));
        for bad in ["1999-12-31T23:59:59Z", "+10000-01-01T00:00:00Z"] {
            let at = bad.parse::<DateTime<Utc>>().expect("parses");
            assert_eq!(plausible(at), Err(ImplausibleInstant), "{bad}");
        }
        assert_eq!(plausible(DateTime::<Utc>::MAX_UTC), Err(ImplausibleInstant));
    }
}
