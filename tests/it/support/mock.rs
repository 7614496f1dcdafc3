//! The MeetingLawyers mock running inside the test process, on its own runtime, so that its
//! store, request histories and counters outlive each `usersync` process the test runs.
//! Used by the harnesses that drive the binary against a mock (`support::nightly`,
//! `support::sync`).

use std::time::{Duration, Instant};

use usersync::mock::{self, FaultConfig, MockHandle, MockOptions, StatsSnapshot, StoredUser};
use usersync::provider::meetinglawyers::MeetingLawyers;

/// A running MeetingLawyers mock, accepting the demo credentials.
pub struct Mock {
    // Dropped first: stops the server while its runtime still runs.
    pub handle: MockHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Mock {
    /// Starts a mock with `faults`; it listens before this returns.
    pub fn start(faults: FaultConfig) -> Mock {
        Mock::start_with(MockOptions {
            faults,
            ..MockOptions::default()
        })
    }

    /// Starts a mock with `options`; it listens before this returns.
    pub fn start_with(options: MockOptions) -> Mock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the mock");
        let handle = runtime
            .block_on(mock::start(&MeetingLawyers, options))
            .expect("start the mock");
        Mock {
            handle,
            _runtime: runtime,
        }
    }

    /// The mock's root URL, for `--base-url`.
    pub fn url(&self) -> String {
        self.handle.url.to_string()
    }

    /// The request counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.state.stats()
    }

    /// Requests the mock received so far (admin routes excluded).
    pub fn requests(&self) -> u64 {
        self.stats().requests
    }

    /// The stored user `id` (MeetingLawyers users are stored by their `user_id`).
    pub fn user(&self, id: &str) -> StoredUser {
        self.handle
            .state
            .user(id)
            .unwrap_or_else(|| panic!("the mock has no user {id}"))
    }

    /// Every stored user.
    pub fn users(&self) -> Vec<StoredUser> {
        self.handle.state.users()
    }

    /// Replaces the mock's faults (e.g. to make a re-run quick).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.handle
            .state
            .set_faults(faults)
            .expect("valid fault settings");
    }

    /// Waits until the mock has received at least `n` requests; panics after `timeout`.
    pub fn wait_for_requests(&self, n: u64, timeout: Duration) {
        let start = Instant::now();
        while self.requests() < n {
            assert!(
                start.elapsed() < timeout,
                "the mock saw only {} of {n} requests in {timeout:?}",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
