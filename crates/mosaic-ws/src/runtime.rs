//! The two things a runtime must provide: a timer and a way to spawn tasks.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// A boxed task, as [`Runtime::spawn`] takes it.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A runtime's timer and spawner; each adapter crate implements it in a few lines.
pub trait Runtime: Clone + Send + Sync + Unpin + 'static {
    /// A future that completes at a deadline.
    type Sleep: Future<Output = ()> + Send + 'static;

    /// Whether a connection's driver task, woken for work that an
    /// application task's run of the driver has already done, may return at
    /// once instead of running the driver again to find nothing. On tokio
    /// that saves about 1,700 instructions per Get round trip (both ends); on
    /// async-std's multi-threaded executor the same skip measured slower
    /// (its idle thread then takes more of the other tasks' work), so the
    /// default is to run. See benches/HISTORY.md, "Stop 16".
    const SKIP_SERVED_WAKEUPS: bool = false;

    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Runs `task` in the background.
    fn spawn(&self, task: Task);
}
