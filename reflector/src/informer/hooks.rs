//! The user's hooks as the informer holds them, and how a failure in user code is
//! reported: the error hook (read at the time of each failure) and the transform. A
//! caught panic's message is store-core's `panic::panic_message`.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::ReflectorError;
use crate::readiness::ErrorHook;

/// The informer's error hook, read each time a failure is reported (so that a hook
/// set after a handler registered still hears that handler's panics).
pub(super) type SharedHook = Arc<Mutex<Option<ErrorHook>>>;
/// The transform run once on every object before it is queued or cached.
pub(super) type Transform<T> = Arc<dyn Fn(Arc<T>) -> Arc<T> + Send + Sync>;

/// Reports `error` to the hook as it is now, called without holding its lock.
pub(super) fn report_to(hook: &SharedHook, error: &ReflectorError) {
    let hook = hook.lock().clone();
    if let Some(hook) = hook {
        hook(error);
    }
}
