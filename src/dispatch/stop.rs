//! How a caller asks a run to stop: gracefully (first Ctrl-C) or at once (second Ctrl-C).
//!
//! A [`StopHandle`] raises the level; the dispatcher watches the matching [`StopSignal`]. The
//! level only goes up. Dropping every handle never stops a run.

use tokio::sync::watch;

/// How urgently the caller wants the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Keep going.
    Run,
    /// Take no new jobs and send no new requests; let in-flight requests finish (within the
    /// settings' `drain_timeout`).
    Graceful,
    /// Abandon in-flight requests now.
    Hard,
}

/// Raises the stop level of a run. Cheap to clone (one per signal handler).
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: watch::Sender<StopLevel>,
}

/// What the dispatcher watches. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopSignal {
    rx: watch::Receiver<StopLevel>,
}

/// A new handle and the signal it raises, at [`StopLevel::Run`].
pub fn stop_signal() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(StopLevel::Run);
    (StopHandle { tx }, StopSignal { rx })
}

impl StopHandle {
    /// Asks for a graceful stop.
    pub fn graceful(&self) {
        self.raise(StopLevel::Graceful);
    }

    /// Asks for a hard stop.
    pub fn hard(&self) {
        self.raise(StopLevel::Hard);
    }

    /// One more Ctrl-C: graceful the first time, hard after that. Returns the new level.
    pub fn escalate(&self) -> StopLevel {
        let next = match *self.tx.borrow() {
            StopLevel::Run => StopLevel::Graceful,
            _ => StopLevel::Hard,
        };
        self.raise(next);
        next
    }

    /// The current level.
    pub fn level(&self) -> StopLevel {
        *self.tx.borrow()
    }

    fn raise(&self, level: StopLevel) {
        self.tx.send_if_modified(|current| {
            if level > *current {
                *current = level;
                true
            } else {
                false
            }
        });
    }
}

impl StopSignal {
    /// A signal nobody can raise: for runs without signal handling (tests, library use).
    pub fn never() -> StopSignal {
        let (_tx, rx) = watch::channel(StopLevel::Run);
        StopSignal { rx }
    }

    /// The current level.
    pub fn level(&self) -> StopLevel {
        *self.rx.borrow()
    }

    /// Waits until the level rises and returns it. Never returns once every handle is gone
    /// (nobody can raise it any more).
    pub async fn raised(&mut self) -> StopLevel {
        match self.rx.changed().await {
            Ok(()) => *self.rx.borrow_and_update(),
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalate_goes_graceful_then_hard() {
        let (handle, signal) = stop_signal();
        assert_eq!(signal.level(), StopLevel::Run);
        assert_eq!(handle.escalate(), StopLevel::Graceful);
        assert_eq!(signal.level(), StopLevel::Graceful);
        assert_eq!(handle.escalate(), StopLevel::Hard);
        handle.graceful();
        assert_eq!(signal.level(), StopLevel::Hard, "the level never goes down");
    }

    #[tokio::test]
    async fn raised_sees_a_stop_made_before_waiting() {
        let (handle, mut signal) = stop_signal();
        handle.graceful();
        assert_eq!(signal.raised().await, StopLevel::Graceful);
    }
}
