//! Waiting for something that happens in another process: poll until it holds, or give up
//! after a limit (never a fixed sleep, which is either too short on a loaded machine or
//! wastes time on an idle one).

use std::time::{Duration, Instant};

/// What a probe answers: `true` or `Some(value)` once the awaited state is reached.
pub trait Settled {
    fn settled(&self) -> bool;
}

impl Settled for bool {
    fn settled(&self) -> bool {
        *self
    }
}

impl<T> Settled for Option<T> {
    fn settled(&self) -> bool {
        self.is_some()
    }
}

/// Polls `probe` every 20 ms until it answers `true` (or `Some`), for up to `limit`; then
/// returns its last answer, so `assert!(eventually(…))` or `eventually(…).expect(…)` tells
/// whether it happened in time.
pub fn eventually<T: Settled>(limit: Duration, mut probe: impl FnMut() -> T) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let answer = probe();
        if answer.settled() || Instant::now() >= deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
