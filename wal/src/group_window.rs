//! When a `Sync` round's leader waits for its group: a backoff that stops the group
//! window from being waited in vain.
//!
//! The window (see the [writer's docs](crate::writer)) waits for as many records as the
//! last round saw in flight. That pays when the writers just released come straight
//! back, as on a log with many writers. It is pure delay when they do not: a writer of a
//! replicated `Quorum` database goes on to wait for a replica after its record is durable,
//! so the record counted in flight during a round often does not come back within the
//! next round's window (measured in the engine's `Sync` puts from 8 threads: the leader's
//! window took 88-90 µs a round on average, most of it in vain, against 15 µs under
//! `Quorum` and 35 µs unreplicated with this backoff, and puts went 3-4% faster).
//!
//! So a window in which no record joined makes the next ones skip: after the n-th such
//! window in a row, the next 2^n - 1 rounds lead at once (n at most
//! [`FRUITLESS_STEPS_MAX`], so that the window is tried again at least every 16 rounds).
//! One window in which a record did join ends the backoff.

/// The most fruitless windows in a row that double the rounds skipped: after the 4th,
/// 15 rounds lead without a window before it is tried again.
const FRUITLESS_STEPS_MAX: u32 = 4;

/// The backoff state of one log's group window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupWindow {
    /// Windows in a row in which no record joined, at most [`FRUITLESS_STEPS_MAX`].
    fruitless: u32,
    /// Rounds left to lead without waiting.
    to_skip: u32,
}

impl GroupWindow {
    /// Whether this round's leader should wait for its group (false while backing off;
    /// the call counts a skipped round).
    pub(crate) fn should_wait(&mut self) -> bool {
        if self.to_skip > 0 {
            self.to_skip -= 1;
            return false;
        }
        true
    }

    /// Records how a window that was waited went: whether any record joined during it.
    pub(crate) fn waited(&mut self, gathered: bool) {
        if gathered {
            self.fruitless = 0;
        } else {
            self.fruitless = (self.fruitless + 1).min(FRUITLESS_STEPS_MAX);
            self.to_skip = (1 << self.fruitless) - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rounds (of `rounds`) whose leader waits, when no window ever gathers a record.
    fn waiting_rounds(window: &mut GroupWindow, rounds: u32) -> Vec<u32> {
        (0..rounds)
            .filter(|_| {
                let wait = window.should_wait();
                if wait {
                    window.waited(false);
                }
                wait
            })
            .collect()
    }

    #[test]
    fn fruitless_windows_double_the_rounds_skipped_up_to_the_cap() {
        let mut window = GroupWindow::default();
        // Waits, skips 1, waits, skips 3, waits, skips 7, waits, skips 15, then every 16th.
        assert_eq!(waiting_rounds(&mut window, 64), vec![0, 2, 6, 14, 30, 46, 62]);
    }

    #[test]
    fn a_window_that_gathers_a_record_ends_the_backoff() {
        let mut window = GroupWindow::default();
        assert_eq!(waiting_rounds(&mut window, 7), vec![0, 2, 6]);
        // Round 7 skips (7 to skip after the third fruitless window); the window is tried
        // at round 14 and gathers a record this time.
        assert_eq!(waiting_rounds(&mut window, 7), vec![]);
        assert!(window.should_wait());
        window.waited(true);
        assert_eq!(window, GroupWindow::default());
        assert!(window.should_wait());
        window.waited(true);
        assert!(window.should_wait(), "windows that gather go on being waited");
    }

    #[test]
    fn a_log_that_never_waited_never_skips() {
        let mut window = GroupWindow::default();
        assert!((0..100).all(|_| window.should_wait()));
    }
}
