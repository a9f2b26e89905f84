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

    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Runs `task` in the background.
    fn spawn(&self, task: Task);
}
