//! Everything Lambdesk keeps on disk: atomic writes, the workspace file, the
//! file-per-item store behind the durable queues, and the built-in samples
//! installed into a workspace. Above the serde model, below the runtime.

pub mod atomic;
pub mod file_store;
pub mod samples;
pub mod scaffold;
pub mod workspace;

pub use atomic::write_atomic;
pub use workspace::{WorkspaceError, default_data_dir};
