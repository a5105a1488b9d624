//! A bug must not end a run: an engine that panics on one input is a
//! finding on that input (the rest is still judged), never a crash.

/// A panic caught while judging one input, with its message.
///
/// ```
/// let caught = tollgate_core::catch_panic(|| -> u8 { panic!("boom") });
/// assert_eq!(caught.map_err(|p| p.to_string()), Err("boom".to_owned()));
/// assert_eq!(tollgate_core::catch_panic(|| 7), Ok(7));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Panicked(pub String);

impl Panicked {
    /// The message of the `policy-error` on the input (`what`: document,
    /// object) that `engine` panicked on.
    pub fn unchecked_message(&self, engine: &str, what: &str) -> String {
        format!(
            "The {engine} engine failed on this {what} ({self}); what its policies guard is unchecked here. This is a bug of tollgate, please report it."
        )
    }
}

/// Runs `f`, turning a panic into [`Panicked`] with the panic's message.
/// The panic is still printed by the panic hook, for the bug report. What
/// `f` was changing may be left half done: callers drop it (an engine's
/// per-thread state) or use only what `f` returned.
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        Panicked(
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned()),
        )
    })
}
