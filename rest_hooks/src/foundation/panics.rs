//! Running the application's code — finders, deliverers, serializers, callbacks — so that a panic
//! in it becomes an error the engine records or logs with its message, never a stopped actor.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Runs `f`; a panic comes back as `Err` with its message.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| message(&*payload))
}

/// Awaits `future`; a panic comes back as `Err` with its message.
pub(crate) async fn catch_async<F: Future>(future: F) -> Result<F::Output, String> {
    AssertUnwindSafe(future).catch_unwind().await.map_err(|payload| message(&*payload))
}

/// The message of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_comes_back_with_its_message() {
        assert_eq!(catch(|| 1), Ok(1));
        assert_eq!(catch(|| -> () { panic!("boom {}", 1) }), Err("boom 1".to_owned()));
        assert_eq!(catch(|| std::panic::panic_any(7_u8)), Err("non-string panic payload".to_owned()));
    }

    #[tokio::test]
    async fn a_panicking_future_comes_back_with_its_message() {
        assert_eq!(catch_async(async { 2 }).await, Ok(2));
        assert_eq!(catch_async(async { panic!("async boom") }).await, Err::<(), _>("async boom".to_owned()));
    }
}
