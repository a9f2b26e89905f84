//! The runtimes under test, as conformance harnesses: tokio, async-std's
//! executor and smol's, each with its adapter's transport.

use std::future::Future;
use std::sync::LazyLock;

use mosaic_demo::conformance::Harness;
use mosaic_ws_async_std::AsyncStd;
use mosaic_ws_tokio::Tokio;

static TOKIO: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
});

/// The tokio adapter on a multi-threaded tokio runtime.
pub(crate) struct OnTokio;

impl Harness for OnTokio {
    type Transport = Tokio;

    fn transport(&self) -> Tokio {
        Tokio
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        TOKIO.block_on(future)
    }
}

/// The async-std adapter on async-std's executor.
pub(crate) struct OnAsyncStd;

impl Harness for OnAsyncStd {
    type Transport = AsyncStd;

    fn transport(&self) -> AsyncStd {
        AsyncStd::default()
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        async_std::task::block_on(future)
    }
}

/// The async-std adapter on smol's executor.
pub(crate) struct OnSmol;

impl Harness for OnSmol {
    type Transport = AsyncStd;

    fn transport(&self) -> AsyncStd {
        AsyncStd::with_spawner(|task| smol::spawn(task).detach())
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        smol::block_on(future)
    }
}
