//! The session shared between a connection's driver task and the application's
//! handles, with the wakers that connect them, and the driver itself, which
//! either side may run.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use mosaic_proto::session::{Closed, Session, SessionError};

/// A session and the tasks waiting on it.
#[derive(Debug)]
pub(crate) struct Inner<S> {
    pub(crate) session: S,
    /// The driver task, woken when the application queues something or frees
    /// room for input.
    driver: Option<Waker>,
    /// The driver task has been woken and has not yet begun its next poll:
    /// another wake-up would only tell it again. A server sending one record
    /// to many subscribers queues many records per driver run, and each
    /// wake-up of a tokio task costs atomic operations on its state.
    driver_woken: bool,
    /// Counts the wake-ups meant for the driver (see [`Inner::wake_driver`]).
    work_seq: u64,
    /// `work_seq` as the driver's latest round began: when the two are
    /// equal, that round (on whichever task) has seen all there was, and a
    /// driver task polled for a wake-up it already served need not run.
    drove_seq: u64,
    /// Application tasks waiting for events.
    event_waiters: Waiters,
    /// Application tasks waiting for room in the outbound queue.
    space_waiters: Waiters,
    /// The driver stopped reading because the application lags behind.
    pub(crate) input_blocked: bool,
    /// The driver has finished: the transport is gone.
    pub(crate) finished: bool,
    /// The connection's waker was woken (the socket or the timer is ready)
    /// since the driver last looked. The driver polls the WebSocket for
    /// input only then, once it has said Pending: polling it again costs
    /// tungstenite a zeroed read buffer and every layer below a call, for
    /// nothing until the socket is ready.
    pub(crate) io_woken: bool,
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
        // Most often there is no second waiter: skip the drain's set-up.
        if !self.more.is_empty() {
            self.more.drain(..).for_each(Waker::wake);
        }
    }
}

impl<S: Session> Inner<S> {
    /// Notes the driver task's waker as its poll begins.
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        self.driver_woken = false;
        match &self.driver {
            Some(w) if w.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
    }

    /// A round of the driver begins: it sees every wake-up so far.
    pub(crate) fn round_begins(&mut self) {
        self.drove_seq = self.work_seq;
    }

    /// Notes work for the driver (a call changed the session, or the socket
    /// or the timer is ready) and wakes the driver task, unless it was woken
    /// since its last poll began.
    pub(crate) fn wake_driver(&mut self) {
        self.work_seq = self.work_seq.wrapping_add(1);
        if let Some(w) = &self.driver
            && !self.driver_woken
        {
            w.wake_by_ref();
            self.driver_woken = true;
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

/// A connection's driver, as the shared state holds it (without naming its
/// WebSocket and runtime types).
pub(crate) trait Drive: Send {
    /// Runs the driver: reads, writes and timers, until it would wait;
    /// `Ready` once the connection is over. `cx` carries the connection's
    /// own waker ([`Shared`]'s `Wake`); `inline`: an application task runs
    /// it, not the driver task.
    fn drive(&mut self, cx: &mut Context<'_>, inline: bool) -> Poll<()>;
}

/// A session behind a mutex, shared by the driver and the handles.
///
/// The driver sits here too, not inside its task: its task runs it when the
/// socket or a handle wakes it, and an application task about to wait for an
/// event runs it first (see [`Shared::poll_event`]). A request then leaves,
/// and a reply is read, on the application's task, with no hand-over to
/// another task in between; the driver task's run after it finds nothing
/// left to do. Readiness and timers stay registered to the driver task,
/// whoever polls, so nothing depends on the application polling again.
pub(crate) struct Shared<S> {
    inner: Mutex<Inner<S>>,
    /// The driver; `None` before it is installed and after it has finished.
    engine: Mutex<Option<Box<dyn Drive>>>,
    /// The driver task found the engine busy in an application task: whoever
    /// holds it wakes the driver task when done, so no wake-up is lost.
    missed: AtomicBool,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Shared<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: Session> Shared<S> {
    pub(crate) fn new(session: S) -> Arc<Shared<S>> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                driver: None,
                driver_woken: false,
                // Unequal: the driver task's first poll runs the driver.
                work_seq: 1,
                drove_seq: 0,
                event_waiters: Waiters::default(),
                space_waiters: Waiters::default(),
                input_blocked: false,
                finished: false,
                io_woken: false,
            }),
            engine: Mutex::new(None),
            missed: AtomicBool::new(false),
        })
    }

    /// Hands the connection's driver over; its task runs it with
    /// [`Shared::poll_driver_task`].
    pub(crate) fn install(&self, driver: Box<dyn Drive>) {
        *lock_engine(&self.engine) = Some(driver);
    }

    /// Drops the driver if it has not finished (its task was dropped).
    pub(crate) fn drop_driver(&self) {
        let driver = lock_engine(&self.engine).take();
        drop(driver);
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

    /// How the connection closed, once a close is decided or received.
    pub(crate) fn close_reason(&self) -> Option<Closed> {
        self.lock().closed().cloned()
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

/// What needs the connection's waker (the shared state itself, see the
/// [`Wake`] impl below).
impl<S: Session + Send + 'static> Shared<S> {
    /// The driver task's poll: runs the driver, unless an application task
    /// is running it at this moment, in which case that task wakes this one
    /// again when it is done, or (with `skip_served`, see
    /// [`Runtime::SKIP_SERVED_WAKEUPS`](crate::Runtime::SKIP_SERVED_WAKEUPS))
    /// a round begun since the last wake-up (an application task's, most
    /// often) has seen all there was. `Ready` once the driver has finished.
    pub(crate) fn poll_driver_task(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        skip_served: bool,
    ) -> Poll<()> {
        {
            let mut inner = self.lock();
            inner.set_driver(cx.waker());
            if skip_served && inner.work_seq == inner.drove_seq {
                return Poll::Pending;
            }
        }
        let engine = self.try_lock_engine().or_else(|| {
            self.missed.store(true, Ordering::SeqCst);
            // Orders the flag before the second look at the lock (the
            // holder fences between letting go and reading the flag).
            fence(Ordering::SeqCst);
            // The holder may have let go between the two steps and not
            // seen the flag: look once more.
            self.try_lock_engine()
        });
        let Some(mut engine) = engine else {
            return Poll::Pending;
        };
        let result = self.run_engine(&mut engine, false);
        drop(engine);
        self.wake_missed_driver();
        result
    }

    /// Runs the driver on the calling application task if no other task is
    /// running it (that one wakes the waiters when it is done).
    pub(crate) fn drive_inline(self: &Arc<Self>) {
        let Some(mut engine) = self.try_lock_engine() else {
            return;
        };
        let finished = self.run_engine(&mut engine, true).is_ready();
        drop(engine);
        if finished {
            // Let the driver task see the empty slot and end.
            self.lock().wake_driver();
        } else {
            self.wake_missed_driver();
        }
    }

    /// Runs the driver in `engine` with this connection's I/O waker, emptying
    /// the slot once it has finished.
    fn run_engine(self: &Arc<Self>, engine: &mut Option<Box<dyn Drive>>, inline: bool) -> Poll<()> {
        let Some(driver) = engine.as_mut() else {
            return Poll::Ready(());
        };
        let waker = Waker::from(self.clone());
        let run = catch_unwind(AssertUnwindSafe(|| {
            driver.drive(&mut Context::from_waker(&waker), inline)
        }));
        let result = match run {
            Ok(result) => result,
            Err(panic) => {
                // As when it ran only in its own task: a driver that panicked
                // is dropped (which closes the connection and wakes its
                // waiters), and its task is woken to end; the panic goes on
                // in whichever task ran it.
                *engine = None;
                self.lock().wake_driver();
                resume_unwind(panic);
            }
        };
        if result.is_ready() {
            *engine = None;
        }
        result
    }

    /// The driver, unless another task holds it (poisoning ignored, as for
    /// [`Shared::lock`]).
    fn try_lock_engine(&self) -> Option<MutexGuard<'_, Option<Box<dyn Drive>>>> {
        match self.engine.try_lock() {
            Ok(engine) => Some(engine),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn wake_missed_driver(&self) {
        fence(Ordering::SeqCst);
        if self.missed.swap(false, Ordering::SeqCst) {
            self.lock().wake_driver();
        }
    }

    /// Like [`Shared::call`], but waits while the outbound queue is full.
    pub(crate) fn poll_call<T>(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        f: &mut impl FnMut(&mut S, Instant) -> Result<T, SessionError>,
    ) -> Poll<Result<T, SessionError>> {
        let full = |result: &Result<T, SessionError>| {
            matches!(result, Err(SessionError::QueueFull { .. }))
        };
        let mut inner = self.lock();
        let mut result = f(&mut inner.session, Instant::now());
        if full(&result) {
            // Before waiting for room, make it: send what is queued from
            // this task, then try again.
            drop(inner);
            self.drive_inline();
            inner = self.lock();
            result = f(&mut inner.session, Instant::now());
            if full(&result) {
                inner.space_waiters.register(cx.waker());
                inner.wake_driver();
                return Poll::Pending;
            }
        }
        inner.wake_driver();
        Poll::Ready(result)
    }

    /// Takes the next event the application wants, or waits for one; `None`
    /// once the connection is closed and no event is left.
    ///
    /// Before waiting, the task runs the driver itself: what it queued is
    /// sent, and what has arrived is read, without waiting for the driver
    /// task to be scheduled.
    pub(crate) fn poll_event<E>(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut S) -> Option<E>,
    ) -> Poll<Option<E>> {
        let mut inner = self.lock();
        if let Some(event) = take_event(&mut inner, &mut take) {
            return event;
        }
        drop(inner);
        self.drive_inline();
        inner = self.lock();
        if let Some(event) = take_event(&mut inner, &mut take) {
            return event;
        }
        inner.event_waiters.register(cx.waker());
        Poll::Pending
    }
}

/// An event for [`Shared::poll_event`], or the end once closed; `None`: wait.
fn take_event<S: Session, E>(
    inner: &mut Inner<S>,
    take: &mut impl FnMut(&mut S) -> Option<E>,
) -> Option<Poll<Option<E>>> {
    if let Some(event) = take(&mut inner.session) {
        if inner.input_blocked {
            inner.wake_driver();
        }
        return Some(Poll::Ready(Some(event)));
    }
    inner.closed().is_some().then_some(Poll::Ready(None))
}

fn lock_engine(engine: &Mutex<Option<Box<dyn Drive>>>) -> MutexGuard<'_, Option<Box<dyn Drive>>> {
    engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The waker that the socket and the timer get, whoever polls the driver: it
/// wakes the driver task, then the application tasks waiting for events, so
/// that they read what came themselves (see [`Shared::poll_event`]); on a
/// runtime that runs the task woken last first, they run before the driver
/// task, which then finds the work done.
impl<S: Session + Send + 'static> Wake for Shared<S> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut inner = self.lock();
        inner.io_woken = true;
        inner.wake_driver();
        inner.wake_event_waiters();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicUsize;

    use mosaic_proto::CloseCode;
    use mosaic_proto::session::{ClientConfig, ClientSession};

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    pub(crate) struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waker and the count of its wake-ups.
    pub(crate) fn counter() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (counter.clone(), Waker::from(counter))
    }

    pub(crate) fn woken(counter: &Counter) -> usize {
        counter.0.load(Ordering::SeqCst)
    }

    /// A driver that records how it was run, and finishes when told to.
    #[derive(Default)]
    struct Probe {
        inline_runs: AtomicUsize,
        task_runs: AtomicUsize,
        finish: AtomicBool,
        panic: AtomicBool,
        dropped: AtomicBool,
    }

    /// Counts its runs; like the real driver, each run begins a round.
    struct FakeDriver(Arc<Probe>, std::sync::Weak<Shared<ClientSession>>);

    impl Drive for FakeDriver {
        fn drive(&mut self, _cx: &mut Context<'_>, inline: bool) -> Poll<()> {
            if let Some(shared) = self.1.upgrade() {
                shared.lock().round_begins();
            }
            let runs = if inline {
                &self.0.inline_runs
            } else {
                &self.0.task_runs
            };
            runs.fetch_add(1, Ordering::SeqCst);
            assert!(!self.0.panic.load(Ordering::SeqCst), "driver bug");
            if self.0.finish.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl Drop for FakeDriver {
        fn drop(&mut self) {
            self.0.dropped.store(true, Ordering::SeqCst);
        }
    }

    /// A shared state with a fake driver whose task has been polled once
    /// (so that its waker is known), and that task's wake-up count.
    struct Started {
        shared: Arc<Shared<ClientSession>>,
        probe: Arc<Probe>,
        task: Arc<Counter>,
        task_waker: Waker,
        /// Whether the driver task skips served wake-ups.
        skip: bool,
    }

    impl Started {
        fn new() -> Started {
            Started::skipping(false)
        }

        fn skipping(skip: bool) -> Started {
            let shared = Shared::new(ClientSession::new(ClientConfig::default(), Instant::now()));
            let probe = Arc::new(Probe::default());
            let driver = FakeDriver(probe.clone(), Arc::downgrade(&shared));
            shared.install(Box::new(driver));
            let (task, task_waker) = counter();
            let started = Started {
                shared,
                probe,
                task,
                task_waker,
                skip,
            };
            assert!(started.poll_task().is_pending());
            started
        }

        fn poll_task(&self) -> Poll<()> {
            self.shared
                .poll_driver_task(&mut Context::from_waker(&self.task_waker), self.skip)
        }

        /// An application call that queues work for the driver.
        fn call(&self) {
            self.shared
                .call(|_, _| Ok::<_, SessionError>(()))
                .expect("call");
        }

        /// How often the driver ran: (by its task, by application tasks).
        fn runs(&self) -> (usize, usize) {
            (
                self.probe.task_runs.load(Ordering::SeqCst),
                self.probe.inline_runs.load(Ordering::SeqCst),
            )
        }
    }

    fn no_event(_: &mut ClientSession) -> Option<()> {
        None
    }

    #[test]
    fn the_driver_task_is_woken_once_until_its_next_poll() {
        let t = Started::new();
        t.call();
        t.call();
        Waker::from(t.shared.clone()).wake_by_ref();
        t.call();
        assert_eq!(woken(&t.task), 1, "one wake-up until it is polled");
        // Once its poll has begun, the next call wakes it again, even if
        // that poll could not run the driver (an application task held it).
        let engine = lock_engine(&t.shared.engine);
        assert!(t.poll_task().is_pending());
        t.call();
        assert_eq!(woken(&t.task), 2);
        drop(engine);
        t.shared.wake_missed_driver();
        assert_eq!(woken(&t.task), 2, "already woken: not again");
        assert!(t.poll_task().is_pending());
        assert_eq!(t.runs(), (2, 0));
        t.call();
        assert_eq!(woken(&t.task), 3);
    }

    #[test]
    fn a_task_about_to_wait_for_an_event_runs_the_driver_first() {
        let t = Started::new();
        assert_eq!(t.runs(), (1, 0));
        let (app, app_waker) = counter();
        let mut app_cx = Context::from_waker(&app_waker);
        assert!(t.shared.poll_event(&mut app_cx, no_event).is_pending());
        assert_eq!(t.runs(), (1, 1));
        // It waits as an event waiter: the socket's wake-up reaches it, and
        // it runs the driver again (to read what came).
        Waker::from(t.shared.clone()).wake_by_ref();
        assert_eq!(woken(&app), 1);
        assert!(t.shared.poll_event(&mut app_cx, no_event).is_pending());
        assert_eq!(t.runs(), (1, 2));
    }

    #[test]
    fn the_connection_waker_wakes_the_driver_task_and_the_event_waiters() {
        let t = Started::new();
        let (first, first_waker) = counter();
        let (second, second_waker) = counter();
        let _ = t
            .shared
            .poll_event(&mut Context::from_waker(&first_waker), no_event);
        let _ = t
            .shared
            .poll_event(&mut Context::from_waker(&second_waker), no_event);
        Waker::from(t.shared.clone()).wake();
        assert_eq!((woken(&t.task), woken(&first), woken(&second)), (1, 1, 1));
    }

    #[test]
    fn a_driver_task_that_finds_the_driver_busy_is_woken_when_it_is_free() {
        for skip in [false, true] {
            driver_task_finds_the_driver_busy(skip);
        }
    }

    /// Work comes, and the driver task is polled while an application task
    /// holds the driver.
    fn driver_task_finds_the_driver_busy(skip: bool) {
        let t = Started::skipping(skip);
        t.call();
        assert_eq!(woken(&t.task), 1, "the call woke it");
        let (busy, ready) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|scope| {
            // An application task holds the driver (here: its lock) ...
            scope.spawn(|| {
                let engine = lock_engine(&t.shared.engine);
                busy.wait();
                ready.wait();
                drop(engine);
                t.shared.wake_missed_driver();
            });
            busy.wait();
            // ... when the driver task is polled: it must not run it, and
            // must not be forgotten.
            assert!(t.poll_task().is_pending());
            assert_eq!(t.runs(), (1, 0));
            assert_eq!(woken(&t.task), 1);
            ready.wait();
        });
        assert_eq!(woken(&t.task), 2, "the holder wakes the driver task");
        assert!(!t.shared.missed.load(Ordering::SeqCst));
        assert!(t.poll_task().is_pending());
        assert_eq!(t.runs(), (2, 0), "and it runs the driver (skip: {skip})");
        // Polled again with nothing new: only a skipping task passes.
        assert!(t.poll_task().is_pending());
        let runs = if skip { 2 } else { 3 };
        assert_eq!(t.runs(), (runs, 0), "nothing new (skip: {skip})");
    }

    #[test]
    fn a_task_that_finds_the_driver_busy_waits_for_its_events() {
        let t = Started::new();
        let engine = lock_engine(&t.shared.engine);
        let (app, app_waker) = counter();
        let polled = t
            .shared
            .poll_event(&mut Context::from_waker(&app_waker), no_event);
        drop(engine);
        assert!(polled.is_pending());
        assert_eq!(t.runs(), (1, 0));
        assert_eq!((woken(&t.task), woken(&app)), (0, 0));
        t.shared.lock().wake_event_waiters();
        assert_eq!(woken(&app), 1, "registered as an event waiter");
    }

    #[test]
    fn a_driver_finishing_on_an_application_task_lets_its_task_end() {
        for skip in [false, true] {
            driver_finishes_on_an_application_task(skip);
        }
    }

    fn driver_finishes_on_an_application_task(skip: bool) {
        let t = Started::skipping(skip);
        t.probe.finish.store(true, Ordering::SeqCst);
        // The driver closes the session as it finishes (the real one does).
        t.shared
            .lock()
            .session
            .close(CloseCode::NORMAL, "", Instant::now());
        let (_, app_waker) = counter();
        let polled = t
            .shared
            .poll_event(&mut Context::from_waker(&app_waker), no_event);
        assert_eq!(polled, Poll::Ready(None), "closed: no more events");
        // poll_event took the closed path before driving; drive explicitly.
        t.shared.drive_inline();
        assert!(t.probe.dropped.load(Ordering::SeqCst), "slot emptied");
        assert_eq!(woken(&t.task), 1, "the driver task is told to end");
        assert!(t.poll_task().is_ready());
    }

    #[test]
    fn a_driver_panicking_on_an_application_task_is_dropped_and_its_task_ends() {
        for skip in [false, true] {
            driver_panics_on_an_application_task(skip);
        }
    }

    fn driver_panics_on_an_application_task(skip: bool) {
        let t = Started::skipping(skip);
        t.probe.panic.store(true, Ordering::SeqCst);
        let panicked = catch_unwind(AssertUnwindSafe(|| t.shared.drive_inline()));
        assert!(
            panicked.is_err(),
            "the panic goes on in the task that ran it"
        );
        assert!(
            t.probe.dropped.load(Ordering::SeqCst),
            "the driver is dropped"
        );
        assert_eq!(woken(&t.task), 1, "its task is told to end");
        assert!(t.poll_task().is_ready());
    }

    #[test]
    fn dropping_the_driver_task_drops_the_driver() {
        let t = Started::new();
        t.shared.drop_driver();
        assert!(t.probe.dropped.load(Ordering::SeqCst));
        assert!(t.poll_task().is_ready());
    }
}
