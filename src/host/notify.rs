//! How the host tells a console that something it shows has changed,
//! without knowing what the console is (the app's closure wakes egui).

use std::sync::Arc;

/// Called when something a console shows has changed (a trigger's status, a
/// queue's messages, the asynchronous queue's timeline), so it can redraw
/// without polling. It must not block: the app's flips a flag and wakes the UI.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// A [`Notify`] that may be missing: `changed` calls it when it is there.
#[derive(Clone, Default)]
pub struct Notifier(pub(crate) Option<Notify>);

impl Notifier {
    /// Tells the console that something changed.
    pub(crate) fn changed(&self) {
        if let Some(n) = &self.0 {
            n();
        }
    }
}
