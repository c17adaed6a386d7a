//! Lambdesk runs serverless functions, WebAssembly modules that target WASI,
//! on your own machine the way AWS Lambda runs them in the cloud.
//!
//! - [`model`]: the serde-only data model (configurations, events, workspace).
//! - [`runtime`]: the headless runtime on wasmtime (no egui).
//! - [`cli`]: the `lambdesk` command line; [`serve`]: the Lambda Invoke API on loopback;
//!   [`http_trigger`]: the API Gateway stand-in.
//! - [`triggers`]: the host that runs a workspace's triggers (schedules, HTTP
//!   routes, folders, queues, streams), the Lambda API and the [`async_queue`],
//!   for `lambdesk serve` and the app alike.
//! - `app` (feature `gui`): the desktop console on eframe.

pub mod async_queue;
pub mod cli;
pub mod client;
pub mod file_store;
pub mod folder_trigger;
pub mod http_trigger;
pub mod model;
pub mod runtime;
pub mod samples;
pub mod serve;
pub mod sqs_queue;
pub mod stream;
pub mod triggers;

#[cfg(feature = "gui")]
pub mod app;
