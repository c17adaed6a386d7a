//! The serde-only data model: function configurations, test events and the
//! workspace file. Nothing here knows about wasmtime or egui, so the runtime,
//! the command line and the app all share one vocabulary.

pub mod config;
pub mod events;
pub mod schedule;
pub mod trigger;
pub mod workspace;

/// The region Lambdesk presents itself as.
pub const REGION: &str = "us-east-1";
/// The account id in ARNs.
pub const ACCOUNT_ID: &str = "123456789012";

pub use config::{AsyncInvokeConfig, ConfigError, FunctionConfig, Mount, Role};
pub use trigger::{Trigger, TriggerSource};
pub use workspace::{FunctionEntry, TestEvent, Workspace, WorkspaceError};
