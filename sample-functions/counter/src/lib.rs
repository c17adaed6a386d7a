//! `counter`: a handler module that counts the invocations its environment has
//! served. Warm starts see the count grow; a cold start begins again at 1.

use std::sync::atomic::{AtomicU64, Ordering};

use lambdesk_guest::{json, run};

static COUNT: AtomicU64 = AtomicU64::new(0);

lambdesk_guest::initialize!({
    eprintln!("counter: INIT (runs once per environment)");
});

/// The handler (`"handler": "handler"`).
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    run(|_event, ctx| {
        let count = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("this environment has served {count} invocation(s)");
        Ok(json!({ "count": count, "logStream": ctx.log_stream_name }))
    });
}
