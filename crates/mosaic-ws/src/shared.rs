//! The session shared between a connection's driver task and the application's
//! handles, with the wakers that connect them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use mosaic_proto::session::{Closed, Session, SessionError};

/// A session and the tasks waiting on it.
#[derive(Debug)]
pub(crate) struct Inner<S> {
    pub(crate) session: S,
    /// The driver task, woken when the application queues something or frees
    /// room for input.
    driver: Option<Waker>,
    /// Application tasks waiting for events.
    event_waiters: Vec<Waker>,
    /// Application tasks waiting for room in the outbound queue.
    space_waiters: Vec<Waker>,
    /// The driver stopped reading because the application lags behind.
    pub(crate) input_blocked: bool,
    /// The driver has finished: the transport is gone.
    pub(crate) finished: bool,
}

fn register(waiters: &mut Vec<Waker>, waker: &Waker) {
    if !waiters.iter().any(|w| w.will_wake(waker)) {
        waiters.push(waker.clone());
    }
}

impl<S: Session> Inner<S> {
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        match &self.driver {
            Some(w) if w.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
    }

    pub(crate) fn wake_driver(&mut self) {
        if let Some(w) = &self.driver {
            w.wake_by_ref();
        }
    }

    pub(crate) fn wake_event_waiters(&mut self) {
        self.event_waiters.drain(..).for_each(Waker::wake);
    }

    pub(crate) fn wake_space_waiters(&mut self) {
        self.space_waiters.drain(..).for_each(Waker::wake);
    }

    /// The close, once the connection is closed and the driver is done with it.
    pub(crate) fn closed(&self) -> Option<&Closed> {
        self.session.closed()
    }
}

/// A session behind a mutex, shared by the driver and the handles.
#[derive(Debug)]
pub(crate) struct Shared<S> {
    inner: Mutex<Inner<S>>,
}

impl<S: Session> Shared<S> {
    pub(crate) fn new(session: S) -> Arc<Shared<S>> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                driver: None,
                event_waiters: Vec::new(),
                space_waiters: Vec::new(),
                input_blocked: false,
                finished: false,
            }),
        })
    }

    /// Locks the state. A panic while locked cannot leave the session half
    /// updated in a way that matters more than the panic itself, so poisoning
    /// is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs an application call on the session and wakes the driver to send
    /// what it queued.
    pub(crate) fn call<T>(
        &self,
        f: impl FnOnce(&mut S, Instant) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        let mut inner = self.lock();
        let result = f(&mut inner.session, Instant::now());
        inner.wake_driver();
        result
    }

    /// Like [`Shared::call`], but waits while the outbound queue is full.
    pub(crate) fn poll_call<T>(
        &self,
        cx: &mut Context<'_>,
        f: &mut impl FnMut(&mut S, Instant) -> Result<T, SessionError>,
    ) -> Poll<Result<T, SessionError>> {
        let mut inner = self.lock();
        match f(&mut inner.session, Instant::now()) {
            Err(SessionError::QueueFull { .. }) => {
                register(&mut inner.space_waiters, cx.waker());
                inner.wake_driver();
                Poll::Pending
            }
            result => {
                inner.wake_driver();
                Poll::Ready(result)
            }
        }
    }

    /// Takes the next event the application wants, or waits for one; `None`
    /// once the connection is closed and no event is left.
    pub(crate) fn poll_event<E>(
        &self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut S) -> Option<E>,
    ) -> Poll<Option<E>> {
        let mut inner = self.lock();
        if let Some(event) = take(&mut inner.session) {
            if inner.input_blocked {
                inner.wake_driver();
            }
            return Poll::Ready(Some(event));
        }
        if inner.closed().is_some() {
            return Poll::Ready(None);
        }
        register(&mut inner.event_waiters, cx.waker());
        Poll::Pending
    }

    /// Waits until the driver has finished, then tells how the connection closed.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<Closed> {
        let mut inner = self.lock();
        if inner.finished {
            let closed = inner.closed().cloned().unwrap_or_else(|| Closed {
                code: mosaic_proto::CloseCode(1006),
                reason: String::new(),
                cause: mosaic_proto::session::CloseCause::Transport("driver stopped".into()),
            });
            return Poll::Ready(closed);
        }
        register(&mut inner.event_waiters, cx.waker());
        Poll::Pending
    }
}
