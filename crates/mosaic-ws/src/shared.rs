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
    event_waiters: Waiters,
    /// Application tasks waiting for room in the outbound queue.
    space_waiters: Waiters,
    /// The driver stopped reading because the application lags behind.
    pub(crate) input_blocked: bool,
    /// The driver has finished: the transport is gone.
    pub(crate) finished: bool,
}

/// Tasks waiting on a connection: most often one (the task reading it), held
/// inline so that an idle connection allocates nothing for it.
#[derive(Debug, Default)]
struct Waiters {
    first: Option<Waker>,
    more: Vec<Waker>,
}

impl Waiters {
    fn register(&mut self, waker: &Waker) {
        let known = |w: &Waker| w.will_wake(waker);
        if self.first.as_ref().is_some_and(known) || self.more.iter().any(known) {
            return;
        }
        match self.first {
            None => self.first = Some(waker.clone()),
            Some(_) => self.more.push(waker.clone()),
        }
    }

    fn wake_all(&mut self) {
        if let Some(first) = self.first.take() {
            first.wake();
        }
        self.more.drain(..).for_each(Waker::wake);
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
        self.event_waiters.wake_all();
    }

    pub(crate) fn wake_space_waiters(&mut self) {
        self.space_waiters.wake_all();
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
                event_waiters: Waiters::default(),
                space_waiters: Waiters::default(),
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
                inner.space_waiters.register(cx.waker());
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
        inner.event_waiters.register(cx.waker());
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
        inner.event_waiters.register(cx.waker());
        Poll::Pending
    }
}
