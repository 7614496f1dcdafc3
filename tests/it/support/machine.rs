//! The machine, shared out between the tests that measure time or rates and the heaviest loads.
//!
//! Each area used to be a test binary of its own, and Cargo runs one binary at a time; in one
//! test process a rate test would run beside whatever else runs, and a load of thousands of rows
//! through a faulty mock takes the CPU a debug build needs to keep a rate or a latency. So a test
//! that measures takes the machine [`alone`], a heavy load takes it [`shared_blocking`]: heavy loads
//! run beside each other and beside light tests, never beside a measurement. Light tests take
//! nothing.
//!
//! Async tests hold the guard across `.await`s, hence tokio's lock; blocking tests take it with
//! the `_blocking` variants (never from inside a runtime).

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::const_new(());

/// Holds the machine for one test that measures time or rates.
pub async fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// [`alone`], for a test that is not async.
pub fn alone_blocking() -> RwLockWriteGuard<'static, ()> {
    MACHINE.blocking_write()
}

/// Holds the machine, beside other heavy loads, for one heavy load.
pub fn shared_blocking() -> RwLockReadGuard<'static, ()> {
    MACHINE.blocking_read()
}
