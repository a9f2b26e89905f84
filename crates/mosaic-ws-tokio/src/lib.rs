#![doc = include_str!("../README.md")]

mod client;
mod runtime;
mod server;

pub use client::connect;
pub use runtime::TokioRuntime;
pub use server::{Accepted, Incoming, NostrStream, Server};

pub use mosaic_ws::*;
