//! A byte stream that counts the bytes read and written through it: how the
//! driver sees a peer take a large frame of ours bit by bit, which the
//! WebSocket layer's flush does not show, or send one of its own, which the
//! WebSocket layer shows only whole (see [`Transport::server_ws_traffic`]).
//!
//! [`Transport::server_ws_traffic`]: crate::Transport::server_ws_traffic

#[cfg(any(feature = "tokio", feature = "futures-io", test))]
use std::io;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
use std::pin::Pin;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
use std::task::Context;
#[cfg(any(feature = "tokio", feature = "futures-io", test))]
use std::task::Poll;

/// A stream (a TCP socket, under TLS and the WebSocket) that counts the
/// bytes it read and the bytes it took to send. It implements the runtime's
/// I/O traits of the stream it wraps: tokio's with the `tokio` feature,
/// futures-io's with the `futures-io` feature.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    traffic: Traffic,
}

/// Bytes a [`Counted`] stream moved so far, each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes read from the stream.
    pub received: u64,
    /// Bytes the stream took to send.
    pub sent: u64,
}

impl<S> Counted<S> {
    /// Wraps `inner`, counting from zero.
    pub fn new(inner: S) -> Counted<S> {
        Counted {
            inner,
            traffic: Traffic::default(),
        }
    }

    /// The stream wrapped.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream wrapped.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The bytes read and sent through it so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Adds what a write reports to the count sent.
    #[cfg(any(feature = "tokio", feature = "futures-io", test))]
    fn count(&mut self, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &poll {
            self.traffic.sent = self.traffic.sent.saturating_add(*n as u64);
        }
        poll
    }

    /// Adds what a read reports to the count received.
    #[cfg(any(feature = "futures-io", test))]
    fn count_received(&mut self, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &poll {
            self.traffic.received = self.traffic.received.saturating_add(*n as u64);
        }
        poll
    }
}

/// The two writes that count, alike in tokio's and futures-io's `AsyncWrite`.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
macro_rules! counting_writes {
    () => {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
            self.count(poll)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            self.count(poll)
        }
    };
}

#[cfg(feature = "tokio")]
impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let n = buf.filled().len().saturating_sub(before);
            self.traffic.received = self.traffic.received.saturating_add(n as u64);
        }
        poll
    }
}

#[cfg(feature = "tokio")]
impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    counting_writes!();

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(feature = "futures-io")]
impl<S: futures_io::AsyncRead + Unpin> futures_io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.count_received(poll)
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_read_vectored(cx, bufs);
        self.count_received(poll)
    }
}

#[cfg(feature = "futures-io")]
impl<S: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for Counted<S> {
    counting_writes!();

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bytes_moved_are_counted() {
        let mut counted = Counted::new(());
        let sent = counted.count(Poll::Ready(Ok(100)));
        assert_eq!(sent.map(|r| r.ok()), Poll::Ready(Some(100)));
        let _ = counted.count(Poll::Pending);
        let _ = counted.count(Poll::Ready(Err(io::ErrorKind::WouldBlock.into())));
        let _ = counted.count(Poll::Ready(Ok(28)));
        let _ = counted.count_received(Poll::Ready(Ok(7)));
        let _ = counted.count_received(Poll::Pending);
        let traffic = counted.traffic();
        assert_eq!(
            traffic,
            Traffic {
                received: 7,
                sent: 128
            }
        );
    }
}
