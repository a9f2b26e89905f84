//! The transport limits of a connection, on top of the session's own.

use std::time::Duration;

use mosaic_proto::{DEFAULT_MAX_MESSAGE_LEN, MAX_MESSAGE_LEN};
use tungstenite::protocol::WebSocketConfig;

/// Limits of the transport under a Mosaic session; every one bounded by default.
///
/// The session's limits (open queries, queued bytes, keepalive, idle time) are
/// in [`ServerConfig`](mosaic_proto::session::ServerConfig) and
/// [`ClientConfig`](mosaic_proto::session::ClientConfig).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// TCP connect, TLS handshake and WebSocket upgrade must finish within this.
    /// Default 10 s.
    pub handshake_timeout: Duration,
    /// Largest message received. Default 1 MiB + 8 bytes (the largest Record or
    /// Submission), at most 16 MiB − 1.
    pub max_message_len: usize,
    /// WebSocket read buffer, allocated per connection. Default 4 KiB, so an
    /// idle connection stays cheap. tungstenite grows it to hold a larger
    /// frame and may keep that capacity afterwards: a connection that was
    /// sent one large frame can hold up to [`Limits::max_message_len`].
    /// Mosaic clients send messages over 16 KiB in 16 KiB frames.
    pub read_buffer_size: usize,
    /// Bytes the WebSocket layer gathers before writing to TLS. Default 64 KiB.
    pub write_buffer_size: usize,
    /// After sending a close frame, how long to wait for the peer's; and once
    /// a closed connection has nothing more to send, how long its last flush
    /// may take. Then the socket is dropped whatever the peer does. Default 5 s.
    pub close_timeout: Duration,
    /// Send a Record larger than this in frames of this size (at least
    /// 4 KiB); `None`, the default, sends a record's bytes as one frame.
    ///
    /// tungstenite copies each frame into its write buffer and keeps the
    /// capacity the largest frame gave it, so a connection that was sent
    /// one 1 MiB record keeps about 1 MiB for the rest of its life
    /// (measured: 897 KiB per idle server connection after one 900 KB
    /// record; 83 KiB with 64 KiB frames). The receiver gathers a record in
    /// frames with one more copy of it (measured with 64 KiB frames, three
    /// runs in turns: 1 MiB records about a tenth slower on async-std, level
    /// on tokio; 64 KiB records level on both). A server that sends large
    /// records to many connections should set it, `Some(64 * 1024)` for
    /// instance.
    pub record_frame_len: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            read_buffer_size: 4 * 1024,
            write_buffer_size: 64 * 1024,
            close_timeout: Duration::from_secs(5),
            record_frame_len: None,
        }
    }
}

impl Limits {
    /// The tungstenite configuration these limits give: received messages and
    /// frames capped at `max_message_len`, and a write buffer bounded to one
    /// message past the gathering size (any message we may send: the limit on
    /// what we receive says nothing about what we send).
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_write_buffer_size(self.write_buffer_size + MAX_MESSAGE_LEN + 64)
            .max_message_size(Some(self.max_message_len))
            .max_frame_size(Some(self.max_message_len))
    }
}
