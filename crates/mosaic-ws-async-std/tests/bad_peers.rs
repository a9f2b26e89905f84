//! What a bad peer gets from the async-std adapter, over real loopback sockets:
//! the shared scenarios of `mosaic_demo::conformance`, under async-std's
//! executor and under smol's.

use std::future::Future;

use mosaic_demo::conformance::Harness;
use mosaic_ws_async_std::AsyncStd;

struct OnAsyncStd;

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

struct OnSmol;

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

mod async_std_executor {
    mosaic_demo::conformance_tests!(super::OnAsyncStd);
}

mod smol_executor {
    mosaic_demo::conformance_tests!(super::OnSmol);
}
