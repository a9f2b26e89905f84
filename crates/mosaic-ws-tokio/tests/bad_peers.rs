//! What a bad peer gets from the tokio adapter, over real loopback sockets:
//! the shared scenarios of `mosaic_demo::conformance`, run on tokio.

use std::future::Future;
use std::sync::LazyLock;

use mosaic_demo::conformance::Harness;
use mosaic_ws_tokio::Tokio;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
});

struct OnTokio;

impl Harness for OnTokio {
    type Transport = Tokio;

    fn transport(&self) -> Tokio {
        Tokio
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        RUNTIME.block_on(future)
    }
}

mosaic_demo::conformance_tests!(OnTokio);
