#![doc = include_str!("../README.md")]

mod client;
mod counted;
mod driver;
mod endpoint;
mod error;
mod info;
mod limits;
mod options;
mod runtime;
mod server;
mod shared;
mod transport;
mod upgrade;

pub use client::{
    ClientConnection, ClientReceiver, ClientSender, Records, RequestError, Subscription,
    SubscriptionEvent,
};
pub use counted::{Counted, Traffic};
pub use driver::WebSocket;
pub use endpoint::{Incoming, Server, ShutdownHandle, connect_on, within};
pub use error::{AcceptError, ConnectError};
pub use info::{ConnectionInfo, ExtensionTable};
pub use limits::Limits;
pub use options::{ClientOptions, ServerOptions};
pub use runtime::{Runtime, Task};
pub use server::{
    Accepted, ConnectionPermit, NostrConnection, ServerConnection, ServerReceiver, ServerSender,
};
pub use transport::Transport;
pub use upgrade::{Refusal, UpgradeOutcome, answer_upgrade, upgrade_callback};

pub use {mosaic_handshake, mosaic_proto, mosaic_tls, tungstenite};
