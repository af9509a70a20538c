//! A reflector's own thread: where a reflector runs when its caller's runtime has
//! several workers (see [`ReflectorConfig::own_thread`](super::ReflectorConfig::own_thread)).
//!
//! Every list is decoded where the reflector runs. On a multi-thread runtime that is
//! whichever worker polls it, so the first list and a relist can be decoded on two
//! threads, and so — with glibc's default of one malloc arena per thread — in two
//! arenas: the memory the replaced objects free goes back to the first arena, where
//! the second thread's allocations never look, and a relist in place peaks at twice the
//! steady memory instead of once (measured in `BENCHMARKS.md`). One thread for the
//! reflector's whole life keeps every list in one arena.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Whether the caller runs on a runtime with several workers (where a thread of the
/// reflector's own makes a difference).
pub(super) fn on_multi_thread_runtime() -> bool {
    Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() != RuntimeFlavor::CurrentThread)
}

/// Runs `run(stop)` to completion on a new thread named `name`, on a current-thread
/// runtime of its own, and waits for it here. `stop` is a child of `shutdown`,
/// cancelled too when the returned future is dropped, so that the thread never
/// outlives its caller's interest. A panic on the thread is resumed here, as if the
/// work had run inline.
///
/// The thread inherits the caller's `tracing` dispatcher (a thread-local default
/// included).
///
/// # Errors
///
/// `run` back, untouched, when no thread or runtime can be made (the caller runs it
/// inline instead).
pub(super) async fn run_on_own_thread<R, F>(
    name: String,
    shutdown: &CancellationToken,
    run: R,
) -> Result<(), (R, std::io::Error)>
where
    R: FnOnce(CancellationToken) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Err((run, error)),
    };
    let stop = shutdown.child_token();
    // Cancels the thread's work when this future ends or is dropped.
    let _stop_on_drop = stop.clone().drop_guard();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    // The work goes over only once the thread exists, so that it can be handed back.
    let (hand_over, take_over) = std::sync::mpsc::sync_channel::<R>(1);
    let (finished, done) = oneshot::channel::<std::thread::Result<()>>();
    let thread_stop = stop.clone();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let Ok(run) = take_over.recv() else {
            return;
        };
        tracing::dispatcher::with_default(&dispatch, || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                runtime.block_on(run(thread_stop));
            }));
            // The caller may be gone (dropped): nobody to tell.
            let _ = finished.send(outcome);
        });
    });
    if let Err(error) = spawned {
        return Err((run, error));
    }
    if let Err(std::sync::mpsc::SendError(run)) = hand_over.send(run) {
        // The thread is gone before taking the work (it only ends after `recv`).
        return Err((
            run,
            std::io::Error::other("the reflector's thread ended at once"),
        ));
    }
    match done.await {
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Ok(Ok(())) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use parking_lot::Mutex;

    use super::*;

    fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_work_runs_on_a_named_thread_with_a_runtime_and_is_waited_for() {
        assert!(on_multi_thread_runtime());
        let ran_on = Arc::new(Mutex::new(None));
        let record = Arc::clone(&ran_on);
        let shutdown = CancellationToken::new();
        let outcome = run_on_own_thread(
            "reflector test".into(),
            &shutdown,
            move |_stop| async move {
                // a timer of the thread's own runtime
                tokio::time::sleep(Duration::from_millis(5)).await;
                *record.lock() = thread_name();
            },
        )
        .await;
        assert!(outcome.is_ok());
        assert_eq!(ran_on.lock().as_deref(), Some("reflector test"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_reaches_the_work() {
        let shutdown = CancellationToken::new();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cancel.cancel();
        });
        let outcome = run_on_own_thread("reflector test".into(), &shutdown, |stop| async move {
            stop.cancelled().await;
        })
        .await;
        assert!(outcome.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_caller_stops_the_work() {
        let shutdown = CancellationToken::new();
        let (stopped, was_stopped) = oneshot::channel();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                let _ = run_on_own_thread("reflector test".into(), &shutdown, |stop| async move {
                    stop.cancelled().await;
                    let _ = stopped.send(());
                })
                .await;
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        running.abort();
        tokio::time::timeout(Duration::from_secs(10), was_stopped)
            .await
            .expect("the thread's work saw the caller go")
            .expect("told");
        assert!(
            !shutdown.is_cancelled(),
            "only the child token is cancelled"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_on_the_thread_is_resumed_in_the_caller() {
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(async move {
            let _ = run_on_own_thread("reflector test".into(), &shutdown, |_stop| async {
                panic!("boom on the reflector's thread");
            })
            .await;
        });
        let error = running.await.expect_err("the panic came through");
        let panic = error.into_panic();
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"boom on the reflector's thread")
        );
    }

    #[tokio::test]
    async fn a_current_thread_runtime_is_not_multi_thread() {
        assert!(!on_multi_thread_runtime());
    }

    #[test]
    fn outside_a_runtime_is_not_multi_thread() {
        assert!(!on_multi_thread_runtime());
    }
}
