#![doc = include_str!("../README.md")]

mod client;
mod runtime;
mod server;

pub use client::connect;
pub use runtime::TokioRuntime;
pub use server::{Accepted, Incoming, NostrStream, Server};

pub use mosaic_ws::{
    AcceptError, ClientConnection, ClientOptions, ClientReceiver, ClientSender, ConnectError,
    ConnectionInfo, ExtensionTable, Limits, Records, RequestError, ServerConnection, ServerOptions,
    ServerReceiver, ServerSender, Subscription, SubscriptionEvent, mosaic_handshake, mosaic_proto,
    mosaic_tls,
};
