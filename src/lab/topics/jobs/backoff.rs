//! How long a failed job waits before its next attempt: exponential backoff with jitter.
//!
//! The wait doubles with each attempt (0.5 s, 1 s, 2 s, …, at most 30 s), so a dependency that
//! is down is not hammered; then a random point between half of it and all of it is taken, so
//! jobs that failed together (the same outage) do not all come back in the same instant.

use std::time::Duration;

/// The wait after the first failed attempt, before jitter.
pub const BASE: Duration = Duration::from_millis(500);
/// The longest wait, before jitter.
pub const CAP: Duration = Duration::from_secs(30);

/// The wait before the attempt after `attempt` (1 for the first), before jitter.
pub fn ceiling(attempt: i64) -> Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 16) as u32;
    BASE.saturating_mul(1 << doublings).min(CAP)
}

/// The wait before the attempt after `attempt`: between half of [`ceiling`] and all of it.
pub fn delay(attempt: i64) -> Duration {
    let ceiling = ceiling(attempt);
    ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let ms: Vec<u128> = (1..=9).map(|a| ceiling(a).as_millis()).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(ceiling(i64::MAX), CAP);
        assert_eq!(ceiling(0), BASE);
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = delay(3);
            assert!(
                d >= Duration::from_millis(1000) && d <= Duration::from_millis(2000),
                "{d:?}"
            );
            seen.insert(d.as_micros());
        }
        assert!(seen.len() > 100, "the waits differ");
    }
}
