//! Running per-module work (ThinLTO backends, modules compiled without LTO)
//! in parallel, limited by a thread count or by jobserver tokens.

use crate::config::Parallelism;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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
    let failed = AtomicBool::new(false);
    let token_error: Mutex<Option<Error>> = Mutex::new(None);
    let (workers, jobserver) = match parallelism {
        Parallelism::Threads(n) => ((*n).clamp(1, order.len().max(1)), None),
        Parallelism::Tokens(client) => (
            order.len().clamp(1, MAX_TOKEN_WORKERS),
            Some(client.client()),
        ),
    };
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
            scope.spawn(move |_| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                // The first worker runs on the process's implicit token; the
                // others hold a jobserver token for each item they run.
                let token = match jobserver {
                    Some(client) if worker > 0 => match client.acquire() {
                        Ok(token) => Some(token),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            let mut slot = token_error.lock().unwrap_or_else(|e| e.into_inner());
                            slot.get_or_insert(Error::Config(format!(
                                "cannot take a token from the jobserver: {e}"
                            )));
                            break;
                        }
                    },
                    _ => None,
                };
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(position) else { break };
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                max_concurrent.fetch_max(now, Ordering::SeqCst);
                let result = work(i);
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
    };
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut outputs = Vec::with_capacity(slots);
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
    let token_error = token_error.into_inner().unwrap_or_else(|e| e.into_inner());
    match first_error.or(token_error) {
        Some(error) => Err(error),
        None => Ok((outputs, run)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Jobserver;
    use std::time::Duration;

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
        assert!(run.max_concurrent <= 2, "{run:?}");
        assert!(peak.into_inner() <= 2);
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
