//! The serde-only data model: function configurations, test events and the
//! workspace file. Nothing here knows about wasmtime or egui, so the runtime,
//! the command line and the app all share one vocabulary.

pub mod account;
pub mod config;
pub mod events;
pub mod function_blueprints;
pub mod outbound;
pub mod schedule;
pub mod states;
pub mod trigger;
pub mod versions;
pub mod workspace;

pub use account::{ACCOUNT_ID, REGION};

pub use config::{AsyncInvokeConfig, ConfigError, CpuShare, FunctionConfig, Language, Mount, Role};
pub use trigger::{Trigger, TriggerSource};
pub use workspace::{FunctionEntry, TestEvent, Workspace};
