//! A provider's built-in mock running inside the test process, on its own runtime, so that its
//! store, request histories and counters outlive each `usersync` process the test runs.
//! Included by the test harnesses that drive the binary against a mock (`tests/nightly`,
//! `tests/sync`) with `#[path]`.

use usersync::mock::{self, FaultConfig, MockHandle, MockOptions};
use usersync::provider::Provider;

/// A running mock, accepting the provider's demo credentials.
pub struct InProcessMock {
    // Dropped first: stops the server while its runtime still runs.
    pub handle: MockHandle,
    _runtime: tokio::runtime::Runtime,
}

impl InProcessMock {
    /// Starts `provider`'s mock with `faults`; it listens before this returns.
    pub fn start(provider: &'static dyn Provider, faults: FaultConfig) -> InProcessMock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the mock");
        let handle = runtime
            .block_on(mock::start(
                provider,
                MockOptions {
                    faults,
                    ..MockOptions::default()
                },
            ))
            .expect("start the mock");
        InProcessMock {
            handle,
            _runtime: runtime,
        }
    }

    /// The mock's root URL, for `--base-url`.
    pub fn url(&self) -> String {
        self.handle.url.to_string()
    }
}
