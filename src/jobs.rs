//! Running per-module work (ThinLTO backends, modules compiled without LTO)
//! in parallel, limited by a thread count or by jobserver tokens.

use crate::config::Parallelism;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The parallel work of one session, under its [`Parallelism`]: every path
/// that runs work in parallel (loading thin modules, cache keys, thin
/// backends, index files, fat partitions, modules compiled alone) goes
/// through it, so a jobserver's tokens bound them all; it counts the most
/// items that ran at once, across paths.
#[derive(Debug, Clone)]
pub(crate) struct JobSlots {
    parallelism: Parallelism,
    meter: Arc<Meter>,
}

#[derive(Debug, Default)]
struct Meter {
    active: AtomicUsize,
    peak: AtomicUsize,
}

impl Meter {
    fn enter(&self) -> Busy<'_> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Busy(self)
    }
}

/// One item at work, counted until dropped.
pub(crate) struct Busy<'a>(&'a Meter);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Leave to run one item beside the caller's own work (see
/// [`JobSlots::try_background`]): the token it holds, if any, goes back
/// to the jobserver when it is dropped.
pub(crate) struct BackgroundSlot<'a> {
    _token: Option<jobserver::Acquired>,
    _busy: Busy<'a>,
}

impl JobSlots {
    /// The slots of `parallelism`, nothing run yet.
    pub fn new(parallelism: Parallelism) -> Self {
        JobSlots {
            parallelism,
            meter: Arc::default(),
        }
    }

    /// The most items that ran at once so far, across every path.
    pub fn peak(&self) -> usize {
        self.meter.peak.load(Ordering::SeqCst)
    }

    /// [`run_each`] under these slots, each item counted.
    pub fn run_each<T: Send>(
        &self,
        order: &[usize],
        slots: usize,
        thread_name: &str,
        work: impl Fn(usize) -> Result<T> + Sync,
    ) -> Result<(Vec<Option<T>>, ParallelRun)> {
        run_each(order, slots, &self.parallelism, thread_name, |i| {
            let _busy = self.meter.enter();
            work(i)
        })
    }

    /// `work(i)` for every `i` below `count`, in parallel under these
    /// slots; the results in index order, or the first error (in index
    /// order).
    pub fn map<T: Send>(
        &self,
        count: usize,
        thread_name: &str,
        work: impl Fn(usize) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let order: Vec<usize> = (0..count).collect();
        let (results, _) = self.run_each(&order, count, thread_name, work)?;
        results
            .into_iter()
            .map(|result| {
                result.ok_or_else(|| Error::Config("a parallel item produced nothing".to_string()))
            })
            .collect()
    }

    /// Leave to run one item now in the background, while the caller's
    /// thread goes on with its own work (which holds the process's implicit
    /// token): with threads, always (the caller's pool bounds them); with a
    /// jobserver, only when a token is free at once. `None`: leave the item
    /// to a later [`JobSlots::run_each`].
    pub fn try_background(&self) -> Option<BackgroundSlot<'_>> {
        let token = match &self.parallelism {
            Parallelism::Threads(_) => None,
            // Unsupported (an anonymous pipe) or an error: no token.
            Parallelism::Tokens(client) => Some(client.client().try_acquire().ok()??),
        };
        Some(BackgroundSlot {
            _token: token,
            _busy: self.meter.enter(),
        })
    }
}

/// With a jobserver, at most this many workers wait for tokens: more would
/// only be threads blocked on the pipe.
const MAX_TOKEN_WORKERS: usize = 64;

/// How a parallel run went.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParallelRun {
    /// Worker threads started.
    pub workers: usize,
    /// The most items that were being worked on at the same moment.
    pub max_concurrent: usize,
    /// When the first item started (none when nothing ran).
    pub first_start: Option<Instant>,
    /// The items' working time, summed over workers.
    pub busy: Duration,
}

impl ParallelRun {
    /// Worker time spent on no item during `wall` (the run's wall time):
    /// cores left idle while the run waited for its last items.
    pub fn idle(&self, wall: Duration) -> Duration {
        let slots = u32::try_from(self.workers).unwrap_or(u32::MAX);
        wall.saturating_mul(slots).saturating_sub(self.busy)
    }
}

/// Runs `work(i)` for every `i` in `order` (indices below `slots`), in that
/// order of starting, under `parallelism`. Returns one slot per index, filled
/// for those in `order`. On failure, items not yet started are skipped and
/// the error of the first failing item (in index order) is returned.
/// `thread_name` names the workers (`lto-engine-thin-0`, ...).
pub(crate) fn run_each<T: Send>(
    order: &[usize],
    slots: usize,
    parallelism: &Parallelism,
    thread_name: &str,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<(Vec<Option<T>>, ParallelRun)> {
    let results: Mutex<Vec<Option<Result<T>>>> = Mutex::new((0..slots).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let active = AtomicUsize::new(0);
    let max_concurrent = AtomicUsize::new(0);
    let first_start: Mutex<Option<Instant>> = Mutex::new(None);
    let busy: Mutex<Duration> = Mutex::new(Duration::ZERO);
    let failed = AtomicBool::new(false);
    let token_error: Mutex<Option<Error>> = Mutex::new(None);
    let (workers, jobserver) = match parallelism {
        Parallelism::Threads(n) => ((*n).clamp(1, order.len().max(1)), None),
        Parallelism::Tokens(client) => {
            let workers = order.len().clamp(1, MAX_TOKEN_WORKERS);
            // One worker needs no token (nor a helper thread).
            let source = if workers > 1 {
                let source = TokenSource::new(client.client()).map_err(|e| {
                    Error::Config(format!("cannot read tokens from the jobserver: {e}"))
                })?;
                Some(source)
            } else {
                None
            };
            (workers, source)
        }
    };
    let jobserver = jobserver.as_ref();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name({
            let prefix = thread_name.to_string();
            move |i| format!("{prefix}-{i}")
        })
        .build()
        .map_err(|e| Error::Config(format!("cannot start {workers} worker threads: {e}")))?;
    pool.scope(|scope| {
        for worker in 0..workers {
            let (results, next, active, max_concurrent, failed, token_error, work) = (
                &results,
                &next,
                &active,
                &max_concurrent,
                &failed,
                &token_error,
                &work,
            );
            let (first_start, busy) = (&first_start, &busy);
            scope.spawn(move |_| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let work_left = || {
                    !failed.load(Ordering::Relaxed) && next.load(Ordering::Relaxed) < order.len()
                };
                let token = match token_for_next_item(jobserver, worker, work_left) {
                    Ok(Some(token)) => token,
                    // Nothing left to run: no token needed.
                    Ok(None) => break,
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        let mut slot = token_error.lock().unwrap_or_else(|e| e.into_inner());
                        slot.get_or_insert(error);
                        break;
                    }
                };
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(position) else { break };
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                max_concurrent.fetch_max(now, Ordering::SeqCst);
                let started = Instant::now();
                first_start
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(started);
                let result = work(i);
                *busy.lock().unwrap_or_else(|e| e.into_inner()) += started.elapsed();
                active.fetch_sub(1, Ordering::SeqCst);
                drop(token);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    let run = ParallelRun {
        workers,
        max_concurrent: max_concurrent.into_inner(),
        first_start: first_start.into_inner().unwrap_or_else(|e| e.into_inner()),
        busy: busy.into_inner().unwrap_or_else(|e| e.into_inner()),
    };
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let token_error = token_error.into_inner().unwrap_or_else(|e| e.into_inner());
    outputs_or_first_error(results, token_error).map(|outputs| (outputs, run))
}

/// What a worker holds for its next item: the first worker runs on the
/// process's implicit token (`Some(None)`); the others take a jobserver
/// token for each item. `None` when no work is left to take one for.
fn token_for_next_item(
    jobserver: Option<&TokenSource>,
    worker: usize,
    work_left: impl Fn() -> bool,
) -> Result<Option<Option<jobserver::Acquired>>> {
    match jobserver {
        Some(client) if worker > 0 => match client.take(work_left) {
            Ok(Some(token)) => Ok(Some(Some(token))),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::Config(format!(
                "cannot take a token from the jobserver: {e}"
            ))),
        },
        _ => Ok(Some(None)),
    }
}

/// Each item's output, or the error of the first failing item in index
/// order (else the jobserver's).
fn outputs_or_first_error<T>(
    results: Vec<Option<Result<T>>>,
    token_error: Option<Error>,
) -> Result<Vec<Option<T>>> {
    let mut outputs = Vec::with_capacity(results.len());
    let mut first_error = None;
    for result in results {
        match result {
            Some(Ok(output)) => outputs.push(Some(output)),
            Some(Err(error)) => {
                first_error.get_or_insert(error);
                outputs.push(None);
            }
            None => outputs.push(None),
        }
    }
    match first_error.or(token_error) {
        Some(error) => Err(error),
        None => Ok(outputs),
    }
}

/// Jobserver tokens for the workers beyond the first, read by the crate's
/// helper thread: a worker waits for one only while work is left. A plain
/// blocking read could outlast the run (the first worker may finish
/// everything while the build tool's other jobs hold every token), and
/// anonymous-pipe jobservers (make before 4.4, cargo) cannot be polled.
struct TokenSource {
    helper: jobserver::HelperThread,
    tokens: Mutex<mpsc::Receiver<std::io::Result<jobserver::Acquired>>>,
}

impl TokenSource {
    fn new(client: &jobserver::Client) -> std::io::Result<Self> {
        let (sender, tokens) = mpsc::channel();
        let helper = client.clone().into_helper_thread(move |token| {
            // The run has ended when the receiver is gone; the token is
            // released as it drops.
            let _ = sender.send(token);
        })?;
        Ok(TokenSource {
            helper,
            tokens: Mutex::new(tokens),
        })
    }

    /// A token, or `None` once `work_left()` turns false while waiting.
    /// Tokens that arrive after that wait in the channel and go back to the
    /// jobserver when the source is dropped.
    fn take(&self, work_left: impl Fn() -> bool) -> std::io::Result<Option<jobserver::Acquired>> {
        self.helper.request_token();
        while work_left() {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            match tokens.recv_timeout(Duration::from_millis(5)) {
                Ok(token) => return token.map(Some),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(std::io::Error::other("the jobserver helper thread ended"))
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Jobserver;

    fn busy(active: &AtomicUsize, peak: &AtomicUsize) {
        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        active.fetch_sub(1, Ordering::SeqCst);
    }

    #[test]
    fn a_jobserver_of_one_token_allows_two_at_once() {
        let client = jobserver::Client::new(1).unwrap();
        let (active, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let order: Vec<usize> = (0..12).collect();
        let parallelism = Parallelism::Tokens(Jobserver::new(client));
        let (out, run) = run_each(&order, 12, &parallelism, "t", |i| {
            busy(&active, &peak);
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out.iter().flatten().count(), 12);
        // At most the implicit token plus the pipe's one, and both used: a
        // serial run would also stay under two.
        assert_eq!(run.max_concurrent, 2, "{run:?}");
        assert_eq!(peak.into_inner(), 2);
    }

    #[test]
    fn a_run_ends_when_the_build_tool_holds_every_token() {
        // Every token taken by "other jobs": the implicit token does all
        // the work and the run still ends.
        let client = jobserver::Client::new(1).unwrap();
        let held = client.acquire().unwrap();
        let order: Vec<usize> = (0..4).collect();
        let parallelism = Parallelism::Tokens(Jobserver::new(client.clone()));
        let (out, run) = run_each(&order, 4, &parallelism, "t", Ok).unwrap();
        assert_eq!(out.into_iter().flatten().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(run.max_concurrent, 1);
        drop(held);
    }

    #[test]
    fn the_first_error_in_index_order_wins() {
        let order = [3, 2, 1, 0];
        let result = run_each(&order, 4, &Parallelism::Threads(1), "t", |i| {
            if i == 2 {
                Err(Error::Config(format!("item {i}")))
            } else {
                Ok(i)
            }
        });
        // With one thread, 3 ran, 2 failed, 1 and 0 never started.
        assert_eq!(result.unwrap_err().to_string(), "configuration: item 2");
    }
}
