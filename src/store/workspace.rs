//! Reading and writing the workspace file (`workspace.json`): written
//! atomically; a file that does not parse, or that parses but has an unknown
//! version or shape, is kept as a backup and reported, never loaded as empty
//! and saved over.

use std::fs;
use std::path::{Path, PathBuf};

use crate::model::Workspace;
use crate::store::atomic::write_atomic;

/// Loading or saving a workspace failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Reading or writing failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid workspace. It was copied to `backup` before
    /// anything else happened to it.
    #[error("the workspace file is damaged ({reason}); it was kept as {backup}")]
    Corrupt {
        /// Where the damaged file was copied.
        backup: PathBuf,
        /// What is wrong with it: the parser's message, an unknown version,
        /// or a field this version does not know.
        reason: String,
    },
}

/// Why `bytes` is not a workspace this version can load and save back
/// without losing anything: not JSON, not an object, an unknown `version`,
/// or a top-level field it does not know.
fn check_shape(bytes: &[u8]) -> Result<Workspace, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let Some(object) = value.as_object() else {
        return Err("it is not a JSON object".to_owned());
    };
    if let Some(unknown) = object.keys().find(|k| {
        !matches!(
            k.as_str(),
            "version" | "functions" | "cpu_share" | "state_machines"
        )
    }) {
        return Err(format!("unknown field `{unknown}`"));
    }
    match object.get("version") {
        None => {}
        Some(v) if v.as_u64() == Some(u64::from(Workspace::VERSION)) => {}
        Some(v) => {
            return Err(format!(
                "version {v} is not one this Lambdesk reads (it reads version {}); \
                 a newer Lambdesk may have written it",
                Workspace::VERSION
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

impl Workspace {
    /// Reads `path`. `Ok(None)` when there is no file yet. A file that does
    /// not parse, or has an unknown version or field, is copied next to
    /// itself (`….corrupt-<time>`) and reported.
    pub fn load(path: &Path) -> Result<Option<Self>, WorkspaceError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(WorkspaceError::Io {
                    action: "reading",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        match check_shape(&bytes) {
            Ok(ws) => Ok(Some(ws)),
            Err(reason) => {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
                let mut backup = path.as_os_str().to_owned();
                backup.push(format!(".corrupt-{stamp}"));
                let backup = PathBuf::from(backup);
                write_atomic(&backup, &bytes).map_err(|source| WorkspaceError::Io {
                    action: "backing up",
                    path: backup.clone(),
                    source,
                })?;
                Err(WorkspaceError::Corrupt { backup, reason })
            }
        }
    }

    /// Writes the workspace to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), WorkspaceError> {
        let mut ws = self.clone();
        ws.version = Self::VERSION;
        let json = serde_json::to_vec_pretty(&ws).map_err(|e| WorkspaceError::Io {
            action: "encoding",
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(path, &json).map_err(|source| WorkspaceError::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        })
    }
}

/// The user data folder (`~/.local/share/lambdesk` on Linux), or
/// `$LAMBDESK_WORKSPACE` when set.
pub fn default_data_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("LAMBDESK_WORKSPACE") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("dev", "lambdesk", "Lambdesk")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| std::env::temp_dir().join("lambdesk-workspace"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::workspace::{FunctionEntry, WORKSPACE_FILE};

    #[test]
    fn round_trip_and_corruption_backup() {
        let dir = std::env::temp_dir().join(format!("lambdesk-ws-{}", uuid::Uuid::new_v4()));
        let path = dir.join(WORKSPACE_FILE);
        assert!(Workspace::load(&path).unwrap().is_none());
        let ws = Workspace {
            state_machines: Vec::new(),
            version: 1,
            cpu_share: Default::default(),
            functions: vec![FunctionEntry {
                name: "hello".into(),
                code: "hello.wasm".into(),
                ..Default::default()
            }],
        };
        ws.save(&path).unwrap();
        assert_eq!(Workspace::load(&path).unwrap().unwrap(), ws);

        fs::write(&path, b"{ not json").unwrap();
        let err = Workspace::load(&path).unwrap_err();
        let WorkspaceError::Corrupt { backup, .. } = err else {
            panic!("expected Corrupt, got {err}");
        };
        assert_eq!(fs::read(&backup).unwrap(), b"{ not json");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_cpu_share_setting_is_read_and_a_bad_one_refused_and_kept() {
        let dir = std::env::temp_dir().join(format!("lambdesk-ws-{}", uuid::Uuid::new_v4()));
        let path = dir.join(WORKSPACE_FILE);
        fs::create_dir_all(&dir).unwrap();
        fs::write(&path, br#"{"version":1,"functions":[],"cpu_share":"off"}"#).unwrap();
        let ws = Workspace::load(&path).unwrap().unwrap();
        assert_eq!(ws.cpu_share, crate::model::CpuShare::Off);
        let bad = br#"{"version":1,"functions":[],"cpu_share":"half"}"#;
        fs::write(&path, bad).unwrap();
        let err = Workspace::load(&path).unwrap_err();
        let WorkspaceError::Corrupt { backup, reason } = err else {
            panic!("expected Corrupt, got {err}");
        };
        assert!(reason.contains("half"), "{reason}");
        assert_eq!(fs::read(&backup).unwrap(), bad);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unique_names() {
        let mut ws = Workspace::default();
        ws.functions.push(FunctionEntry {
            name: "hello".into(),
            ..Default::default()
        });
        assert_eq!(ws.unique_name("hello"), "hello-2");
        assert_eq!(ws.unique_name("my func.wasm"), "my-func-wasm");
    }
}
