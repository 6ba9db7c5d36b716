//! How many months a GlobalSign order asks for: the policy's validity, capped by GlobalSign's schedule for public TLS certificates (CA/Browser Forum ballot SC-081), with words for `status_details` when capped.
//!
//! GCC orders name whole months (`ValidityPeriod/Months`), so each cap in
//! days becomes the most whole months that always fit in it (31-day
//! months): GlobalSign issues at most 199 days from 2026-03-14, one day
//! before the ballot's 200 days from 2026-03-15 (GlobalSign's published
//! date). For the ballot's later steps (100 days from 2027-03-15, 47 days
//! from 2029-03-15) GlobalSign's dates are taken to follow the same rule,
//! a day before and a day less; in months the two readings agree (3 and
//! 1), so the order is never longer than the ballot allows on its date.

use time::{Date, Month};

/// From each date on, GlobalSign's longest validity in days, and the whole months within it.
const CAPS: [((i32, Month, u8), u32, u32); 3] = [
    ((2026, Month::March, 14), 199, 6),
    ((2027, Month::March, 14), 99, 3),
    ((2029, Month::March, 14), 46, 1),
];

/// Before the first step: 397 days, 13 months (GCC's longest order).
const BEFORE: (u32, u32) = (397, 13);

/// The months to order for `months` wanted on `today`, and, when capped,
/// the words for `status_details`.
pub fn capped_months(months: u32, today: Date) -> (u32, Option<String>) {
    let step = CAPS
        .iter()
        .rev()
        .find(|((y, m, d), _, _)| Date::from_calendar_date(*y, *m, *d).is_ok_and(|s| today >= s));
    let (days, cap, since) = match step {
        Some(((y, m, d), days, cap)) => {
            (*days, *cap, format!(" from {y}-{:02}-{d:02}", u8::from(*m)))
        }
        None => (BEFORE.0, BEFORE.1, String::new()),
    };
    if months <= cap {
        return (months.max(1), None);
    }
    let note = format!(
        "The policy asks for {months} months; GlobalSign issues public TLS certificates for at most {days} days{since} (CA/Browser Forum ballot SC-081), so {cap} months were ordered."
    );
    (cap, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: Month, d: u8) -> Date {
        Date::from_calendar_date(y, m, d).unwrap()
    }

    #[test]
    fn the_cap_follows_the_schedule_and_says_so() {
        assert_eq!(capped_months(12, day(2026, Month::March, 13)), (12, None));
        assert_eq!(capped_months(24, day(2026, Month::March, 13)).0, 13);
        let (months, note) = capped_months(12, day(2026, Month::March, 14));
        assert_eq!(months, 6);
        let note = note.unwrap();
        assert!(note.contains("199 days from 2026-03-14"), "{note}");
        assert!(note.contains("SC-081"), "{note}");
        assert_eq!(capped_months(6, day(2026, Month::December, 7)), (6, None));
        assert_eq!(capped_months(12, day(2027, Month::March, 14)).0, 3);
        assert_eq!(capped_months(12, day(2029, Month::March, 14)).0, 1);
        assert_eq!(capped_months(0, day(2030, Month::January, 1)), (1, None));
    }

    #[test]
    fn whole_months_always_fit_in_the_ballots_days() {
        for ((y, m, d), days, months) in CAPS {
            assert!(31 * months <= days, "{y}-{m}-{d}");
        }
        // Never more than the ballot on its own dates: 200, 100, 47 days.
        assert!(31 * capped_months(99, day(2026, Month::March, 15)).0 <= 200);
        assert!(31 * capped_months(99, day(2027, Month::March, 15)).0 <= 100);
        assert!(31 * capped_months(99, day(2029, Month::March, 15)).0 <= 47);
    }
}
