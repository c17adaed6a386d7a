//! Lambdesk runs serverless functions, WebAssembly modules that target WASI,
//! on your own machine the way AWS Lambda runs them in the cloud.
//!
//! The modules are layers; each imports only from the layers before it
//! (a test, `tests/all/layers.rs`, keeps it so):
//!
//! 1. [`model`]: the serde-only data model (configurations, events,
//!    workspace, triggers, schedules). No I/O.
//! 2. [`store`]: what is kept on disk (atomic writes, the workspace file,
//!    the file-per-item store, the built-in samples).
//! 3. [`runtime`]: the headless runtime on wasmtime.
//! 4. [`host`]: the headless host of the local AWS services: invokers, the
//!    asynchronous queue, schedules, folders, queues, streams, routes.
//! 5. [`api`]: the HTTP faces (Lambda API, HTTP routes, local endpoints)
//!    on hyper, and a client.
//! 6. [`cli`] and `app` (feature `gui`, the desktop console on eframe).

#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod host;
pub mod model;
pub mod runtime;
pub mod store;

#[cfg(feature = "gui")]
pub mod app;
