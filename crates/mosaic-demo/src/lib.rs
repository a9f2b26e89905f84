//! The example application shared by the adapters' examples, tests and
//! benches: an in-memory Mosaic store, the example programs' flags, and sample
//! records. Not published.

pub mod args;
pub mod conformance;
pub mod programs;
pub mod script;
pub mod store;

pub use args::{ClientArgs, ServerArgs};
pub use store::MemoryStore;
