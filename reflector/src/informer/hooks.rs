//! The user's hooks as the informer holds them, and how a failure in user code is
//! reported: the error hook (read at the time of each failure), the transform, and a
//! caught panic's message.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::ReflectorError;

type ErrorHook = Arc<dyn Fn(&ReflectorError) + Send + Sync>;
/// The informer's error hook, read each time a failure is reported (so that a hook
/// set after a handler registered still hears that handler's panics).
pub(super) type SharedHook = Arc<Mutex<Option<ErrorHook>>>;
/// The transform run once on every object before it is queued or cached.
pub(super) type Transform<T> = Arc<dyn Fn(Arc<T>) -> Arc<T> + Send + Sync>;

/// A panic payload as text.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Reports `error` to the hook as it is now, called without holding its lock.
pub(super) fn report_to(hook: &SharedHook, error: &ReflectorError) {
    let hook = hook.lock().clone();
    if let Some(hook) = hook {
        hook(error);
    }
}
