//! [`BackoffConfig`]: the reflector's jittered exponential backoff, reset after a
//! healthy stretch; the wait itself; and the retry budget for watches answering
//! `InternalError`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use store_core::Status;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a reflector waits after a failure before it tries again.
///
/// Delays grow from `initial` by `factor` per consecutive failure up to `max`; with
/// `jitter`, each delay `d` becomes a random value in `[d, 2d)` so that many
/// reflectors failing together do not retry together. After `reset_after` without
/// a failure the sequence starts over from `initial`. The defaults are client-go's:
/// 800 ms, ×2, capped at 30 s, reset after 2 min, jittered.
///
/// ```
/// use std::time::Duration;
/// use reflector::BackoffConfig;
///
/// let quick = BackoffConfig::default()
///     .with_initial(Duration::from_millis(10))
///     .with_max(Duration::from_secs(1));
/// assert_eq!(quick.factor, 2.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The first delay.
    pub initial: Duration,
    /// The growth per consecutive failure.
    pub factor: f32,
    /// The largest delay before jitter.
    pub max: Duration,
    /// A stretch without failures after which delays start over from `initial`.
    pub reset_after: Duration,
    /// Whether to add a random jitter of up to one delay.
    pub jitter: bool,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(800),
            factor: 2.0,
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl BackoffConfig {
    /// Sets [`initial`](BackoffConfig::initial): the first delay.
    #[must_use]
    pub fn with_initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets [`factor`](BackoffConfig::factor): the growth per consecutive failure.
    #[must_use]
    pub fn with_factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Sets [`max`](BackoffConfig::max): the largest delay before jitter.
    #[must_use]
    pub fn with_max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Sets [`reset_after`](BackoffConfig::reset_after): the stretch without failures
    /// after which delays start over.
    #[must_use]
    pub fn with_reset_after(mut self, reset_after: Duration) -> Self {
        self.reset_after = reset_after;
        self
    }

    /// Sets [`jitter`](BackoffConfig::jitter): whether each delay gets a random jitter.
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }
}

/// The running state: the current delay sequence and when it last failed.
#[derive(Debug)]
pub(super) struct Backoff {
    config: BackoffConfig,
    delays: Option<ExponentialBackoff>,
    last_failure: Option<Instant>,
}

impl Backoff {
    pub(super) fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            delays: None,
            last_failure: None,
        }
    }

    /// The delay to wait after a failure happening now.
    pub(super) fn next_delay(&mut self) -> Duration {
        let now = Instant::now();
        let healthy = self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) >= self.config.reset_after);
        if healthy {
            self.delays = None;
        }
        self.last_failure = Some(now);
        let config = &self.config;
        let delays = self.delays.get_or_insert_with(|| {
            let builder = ExponentialBuilder::default()
                .with_min_delay(config.initial)
                .with_factor(config.factor)
                .with_max_delay(config.max)
                .without_max_times();
            if config.jitter {
                builder.with_jitter().build()
            } else {
                builder.build()
            }
        });
        // Without a limit on attempts the sequence never ends; `max` is the fallback
        // should it ever.
        delays.next().unwrap_or(config.max)
    }
}

/// client-go's `RetryWithDeadline` for watches answering `InternalError`: retry while
/// the first of a run of such errors is at most `max` ago; a run ends after a minute
/// without one.
pub(super) struct InternalErrorRetry {
    max: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl InternalErrorRetry {
    const RESET_AFTER: Duration = Duration::from_secs(60);

    pub(super) fn new(max: Duration) -> Self {
        InternalErrorRetry {
            max,
            first: None,
            last: None,
        }
    }

    /// Whether a watch that just failed with `status` should be retried rather than
    /// followed by a relist.
    pub(super) fn should_retry(&mut self, status: &Status) -> bool {
        if self.max.is_zero() || !status.is_internal_error() {
            return false;
        }
        let now = Instant::now();
        if self.last.is_none_or(|last| now - last > Self::RESET_AFTER) {
            self.first = Some(now);
        }
        self.last = Some(now);
        if self.first.is_some_and(|first| now - first <= self.max) {
            true
        } else {
            self.first = None;
            self.last = None;
            false
        }
    }
}

/// Waits out the next backoff delay; `false` when shut down meanwhile.
pub(super) async fn sleep(backoff: &mut Backoff, shutdown: &CancellationToken) -> bool {
    let delay = backoff.next_delay();
    tracing::debug!(?delay, "backing off");
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> BackoffConfig {
        BackoffConfig::default().with_jitter(false)
    }

    #[tokio::test(start_paused = true)]
    async fn delays_double_from_800ms_and_cap_at_30s() {
        let mut backoff = Backoff::new(plain());
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    }

    #[tokio::test(start_paused = true)]
    async fn two_healthy_minutes_reset_the_sequence() {
        let mut backoff = Backoff::new(plain());
        backoff.next_delay();
        backoff.next_delay();
        tokio::time::advance(Duration::from_secs(119)).await;
        assert_eq!(backoff.next_delay().as_millis(), 3200);
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(backoff.next_delay().as_millis(), 800);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_one_delay() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut base = 800u128;
        for _ in 0..10 {
            let delay = backoff.next_delay().as_millis();
            assert!(
                delay >= base && delay < 2 * base,
                "{delay} outside [{base}, {})",
                2 * base
            );
            base = (base * 2).min(30_000);
        }
    }
}
