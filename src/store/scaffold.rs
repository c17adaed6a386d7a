//! Writes a new function's folder from a blueprint (`lambdesk init`, the
//! app's *Create function*): every file atomically, into a new or empty
//! folder only.

use std::path::Path;

use crate::model::function_blueprints::FunctionBlueprint;
use crate::store::atomic::write_atomic;

/// Why a folder could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The folder holds files already.
    #[error("{0} is not empty: choose a new or empty folder (nothing was written)")]
    NotEmpty(std::path::PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes `blueprint`'s files into `dir` (made if missing; refused when it
/// holds anything, so no code is mixed with or written over).
pub fn write(dir: &Path, blueprint: &FunctionBlueprint) -> Result<(), ScaffoldError> {
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|source| ScaffoldError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (file, text) in blueprint.files {
        let path = dir.join(file);
        write_atomic(&path, text.as_bytes())
            .map_err(|source| ScaffoldError::Io { path, source })?;
    }
    Ok(())
}
