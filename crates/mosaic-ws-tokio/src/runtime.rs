//! The tokio timer and spawner.

use std::time::Instant;

use mosaic_ws::{Runtime, Task};

/// Runs Mosaic connection drivers on the current tokio runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    type Sleep = tokio::time::Sleep;

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn spawn(&self, task: Task) {
        tokio::spawn(task);
    }
}
