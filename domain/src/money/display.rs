//! Money, numbers and dates as a person in Bangladesh reads them: the Taka
//! sign, South Asian digit grouping (the last three digits, then pairs:
//! ৳1,00,000.00), and in Bengali the Bengali digits (৳১,০০,০০০.০০) and
//! month names (৮ ডিসেম্বর ২০২৬). One function for each, for every page,
//! invoice and email, so a figure never reads two ways.

use super::Money;

/// The language a reader chose (the dashboard's switch, the browser's
/// preference, a member's setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English, with Western digits.
    English,
    /// Bengali, with Bengali digits.
    Bengali,
}

impl Language {
    /// Its BCP 47 tag (`en`, `bn`), for `lang` attributes and cookies.
    pub fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Bengali => "bn",
        }
    }

    /// The language of a BCP 47 tag (`bn`, `bn-BD`, `en-US`, …); anything
    /// that is not Bengali reads as English.
    pub fn of_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("bn") { Self::Bengali } else { Self::English }
    }
}

/// `amount` in Taka: `৳1,00,000.00`, `-৳250.50`, or in Bengali `৳১,০০,০০০.০০`.
pub fn taka(amount: Money, language: Language) -> String {
    let plain = amount.to_string();
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    let grouped = south_asian_grouping(whole);
    let text = format!("{}৳{grouped}.{fraction}", if negative { "-" } else { "" });
    match language {
        Language::English => text,
        Language::Bengali => text.chars().map(bengali_digit).collect(),
    }
}

/// A stored amount (a decimal of any scale) in Taka, to the paisa: what
/// pages and emails show of a balance, a line or a total.
pub fn taka_of(amount: rust_decimal::Decimal, language: Language) -> String {
    taka(Money(super::in_minor_units(amount)), language)
}

/// `text` with its digits in `language` (Bengali digits for Bengali).
pub fn digits(text: &str, language: Language) -> String {
    match language {
        Language::English => text.to_owned(),
        Language::Bengali => text.chars().map(bengali_digit).collect(),
    }
}

/// The months in Bengali, January first.
const BENGALI_MONTHS: [&str; 12] =
    ["জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট", "সেপ্টেম্বর", "অক্টোবর", "নভেম্বর", "ডিসেম্বর"];

/// A day as a reader writes it: `8 Dec 2026`, `৮ ডিসেম্বর ২০২৬`.
pub fn day(date: chrono::NaiveDate, language: Language) -> String {
    use chrono::Datelike;
    match language {
        Language::English => date.format("%-d %b %Y").to_string(),
        Language::Bengali => {
            let month = BENGALI_MONTHS[date.month0() as usize];
            digits(&format!("{} {month} {}", date.day(), date.year()), language)
        }
    }
}

/// A month (`2026-12`) as a reader writes it: `Dec 2026`, `ডিসেম্বর ২০২৬`.
pub fn month(period: &str, language: Language) -> String {
    use chrono::Datelike;
    let Ok(first) = chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d") else {
        return period.to_owned();
    };
    match language {
        Language::English => first.format("%b %Y").to_string(),
        Language::Bengali => digits(&format!("{} {}", BENGALI_MONTHS[first.month0() as usize], first.year()), language),
    }
}

/// A moment as a reader in `zone` writes it: `8 Dec 2026 14:05`.
pub fn day_time(at: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz, language: Language) -> String {
    let local = at.with_timezone(&zone);
    format!("{} {}", day(local.date_naive(), language), digits(&local.format("%H:%M").to_string(), language))
}

/// `1234567` → `12,34,567`: the last three digits, then groups of two.
fn south_asian_grouping(whole: &str) -> String {
    if whole.len() <= 3 {
        return whole.to_owned();
    }
    let (head, last_three) = whole.split_at(whole.len() - 3);
    let mut pairs: Vec<&str> = Vec::new();
    let mut rest = head;
    while rest.len() > 2 {
        let (front, pair) = rest.split_at(rest.len() - 2);
        pairs.push(pair);
        rest = front;
    }
    pairs.push(rest);
    pairs.reverse();
    format!("{},{last_three}", pairs.join(","))
}

fn bengali_digit(c: char) -> char {
    match c.to_digit(10) {
        // U+09E6 BENGALI DIGIT ZERO onwards.
        Some(d) => char::from_u32(0x09E6 + d).unwrap_or(c),
        None => c,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn money(paisa: i64) -> Money {
        Money(Decimal::new(paisa, 2))
    }

    #[test]
    fn amounts_are_grouped_by_the_last_three_digits_then_pairs() {
        let cases = [
            (0, "৳0.00"),
            (99_999, "৳999.99"),
            (100_000, "৳1,000.00"),
            (10_000_000, "৳1,00,000.00"),
            (123_456_789, "৳12,34,567.89"),
            (12_345_678_900, "৳12,34,56,789.00"),
            (123_456_789_000, "৳1,23,45,67,890.00"),
            (-25_050, "-৳250.50"),
        ];
        for (paisa, text) in cases {
            assert_eq!(taka(money(paisa), Language::English), text, "{paisa}");
        }
    }

    #[test]
    fn bengali_readers_get_bengali_digits_in_the_same_grouping() {
        assert_eq!(taka(money(10_000_000), Language::Bengali), "৳১,০০,০০০.০০");
        assert_eq!(taka(money(-1_850), Language::Bengali), "-৳১৮.৫০");
    }

    #[test]
    fn days_and_months_read_in_the_readers_language() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 8).expect("date");
        assert_eq!(day(d, Language::English), "8 Dec 2026");
        assert_eq!(day(d, Language::Bengali), "৮ ডিসেম্বর ২০২৬");
        assert_eq!(month("2026-01", Language::Bengali), "জানুয়ারি ২০২৬");
        assert_eq!(month("2026-01", Language::English), "Jan 2026");
        let at = "2026-12-07T20:05:00Z".parse().expect("time");
        assert_eq!(day_time(at, chrono_tz::Asia::Dhaka, Language::Bengali), "৮ ডিসেম্বর ২০২৬ ০২:০৫");
    }

    #[test]
    fn a_language_tag_names_bengali_by_its_primary_subtag() {
        assert_eq!(Language::of_tag("bn-BD"), Language::Bengali);
        assert_eq!(Language::of_tag("BN"), Language::Bengali);
        assert_eq!(Language::of_tag("en-US"), Language::English);
        assert_eq!(Language::of_tag("bnx"), Language::English);
    }
}
