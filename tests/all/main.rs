//! One integration-test binary (one link step): the runtime over the real
//! sample functions, the command line, the event templates and the app.

#[cfg(feature = "gui")]
mod app;
mod cli;
mod common;
mod events;
mod hostile_http;
mod javascript;
mod layers;
mod outbound;
mod python;
mod runtime;
mod samples;
mod sandbox;
mod serve;
mod snapstart;
mod states;
mod triggers;
mod versions;
mod wasi;
