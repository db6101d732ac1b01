//! What dynastore's tests share, whatever crate they test: the seed of a randomised test
//! (printed, and taken from `DYNASTORE_SEED` to replay a run), a small deterministic
//! random number generator, and waiting for a condition or a thread with a deadline.
//!
//! It depends on nothing (the WAL's tests use it as much as the engine's); fixtures that
//! need the engine's types live beside the tests that use them (`engine/tests/common`,
//! `tests/common`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable that replays a randomised run: its seed.
pub const SEED_VAR: &str = "DYNASTORE_SEED";

/// The seed `DYNASTORE_SEED` names, if it is set to a number.
pub fn replayed_seed() -> Option<u64> {
    std::env::var(SEED_VAR).ok().and_then(|seed| seed.trim().parse().ok())
}

/// The run's seed: `DYNASTORE_SEED` if set (to replay a run), else the clock; printed
/// either way, so that a failing run names the seed that replays its choices.
pub fn seed() -> u64 {
    let seed = replayed_seed().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| since.as_nanos() as u64)
    });
    println!("seed {seed} ({SEED_VAR}={seed} replays it)");
    seed
}

/// The seeds a test that runs a fixed list of rounds goes through: `rounds` (every one,
/// so that each run covers the same ground), or only the seed `DYNASTORE_SEED` names, to
/// replay a failing round. A failing round must name its seed in its message.
pub fn seeds(rounds: std::ops::Range<u64>) -> Vec<u64> {
    match replayed_seed() {
        Some(seed) => {
            println!("replaying seed {seed} ({SEED_VAR})");
            vec![seed]
        }
        None => rounds.collect(),
    }
}

/// SplitMix64: a tiny deterministic generator, so that every failing seed replays.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose numbers follow from `seed` alone.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`; 0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }
}

/// Waits until `condition` holds, checking every millisecond for at most `limit`;
/// returns whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..8).map(|_| Rng::new(43).next_u64()).collect::<Vec<_>>());
        assert!((0..1000).all(|_| a.below(7) < 7));
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn waiting_reports_whether_the_condition_held() {
        let mut calls = 0;
        assert!(wait_until(Duration::from_secs(1), || {
            calls += 1;
            calls == 3
        }));
        assert!(!wait_until(Duration::from_millis(5), || false));
    }
}
