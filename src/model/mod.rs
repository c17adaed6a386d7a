//! The serde-only data model: function configurations, test events and the
//! workspace file. Nothing here knows about wasmtime or egui, so the runtime,
//! the command line and the app all share one vocabulary.

pub mod config;
pub mod events;
pub mod workspace;

pub use config::{ConfigError, FunctionConfig, Mount, Role};
pub use workspace::{FunctionEntry, TestEvent, Workspace, WorkspaceError};
