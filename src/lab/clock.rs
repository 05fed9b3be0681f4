//! Timestamps for rows: RFC 3339 UTC with microseconds, strictly increasing within a process.
//!
//! Fixed-width UTC text sorts the same way as time, so `ORDER BY created_at` and the
//! `(created_at, id)` cursor comparison work on the stored strings directly. Strictly increasing
//! values mean two rows created in the same microsecond still have a defined order.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;
use time::macros::format_description;

static LAST_MICROS: AtomicI64 = AtomicI64::new(0);

/// Microseconds since the Unix epoch, never equal to or below a value returned before.
pub fn unique_now_micros() -> i64 {
    let wall = wall_micros();
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The current wall-clock time in microseconds since the Unix epoch.
pub fn wall_micros() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// Formats microseconds since the epoch as `2026-11-25T09:30:00.123456Z`.
pub fn format_micros(micros: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    dt.format(&fmt).expect("a UTC date always formats")
}

/// A fresh, unique timestamp string for a new or updated row.
pub fn timestamp() -> String {
    format_micros(unique_now_micros())
}

/// The current time, for trace headers (`started_at`).
pub fn now_string() -> String {
    format_micros(wall_micros())
}

/// Parses RFC 3339 text into microseconds since the epoch.
pub fn parse_micros(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// True when `s` has exactly the stored timestamp shape (used to validate cursors).
pub fn is_stored_timestamp(s: &str) -> bool {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    s.len() == 27 && time::PrimitiveDateTime::parse(s, &fmt).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_strictly_increasing() {
        let a = timestamp();
        let b = timestamp();
        assert_eq!(a.len(), 27, "{a}");
        assert!(b > a, "{a} then {b}");
        assert!(is_stored_timestamp(&a));
        assert!(!is_stored_timestamp("2026-11-25T09:30:00Z"));
    }

    #[test]
    fn formatting_is_utc_with_microseconds() {
        assert_eq!(format_micros(1_000_000), "1970-01-01T00:00:01.000000Z");
        assert_eq!(format_micros(1_234_567), "1970-01-01T00:00:01.234567Z");
    }
}
