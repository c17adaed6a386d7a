//! The workspace file: the functions a user has loaded, their settings and their
//! saved test events. Written atomically; a corrupted file is kept as a backup
//! and reported, never silently replaced.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::FunctionConfig;

/// File name of the workspace inside its folder.
pub const WORKSPACE_FILE: &str = "workspace.json";

/// Everything a user keeps between launches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workspace {
    /// Format version of this file.
    pub version: u32,
    /// Functions in the order the user sees them.
    pub functions: Vec<FunctionEntry>,
}

/// One function: where its code lives, its settings and its test events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionEntry {
    /// Unique name (Lambda's FunctionName).
    pub name: String,
    /// The `.wasm`, `.wat` or `.zip` file; relative paths are relative to the workspace folder.
    pub code: PathBuf,
    /// Settings.
    pub config: FunctionConfig,
    /// Saved test events.
    pub events: Vec<TestEvent>,
    /// Index of the test event selected for Invoke.
    pub selected_event: usize,
    /// What invokes it besides Invoke: schedules, routes, folders, queues, streams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<super::trigger::Trigger>,
}

/// A saved test event. The body is kept as text, so a draft that is not valid
/// JSON yet is not lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestEvent {
    /// Name shown in the event list.
    pub name: String,
    /// The JSON text.
    pub body: String,
}

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
    #[error("the workspace file is damaged ({source}); it was kept as {backup}")]
    Corrupt {
        /// Where the damaged file was copied.
        backup: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
}

impl Workspace {
    /// Current format version.
    pub const VERSION: u32 = 1;

    /// Reads `path`. `Ok(None)` when there is no file yet. A file that does
    /// not parse is copied next to itself (`….corrupt-<time>`) and reported.
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
        match serde_json::from_slice::<Workspace>(&bytes) {
            Ok(ws) => Ok(Some(ws)),
            Err(source) => {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
                let mut backup = path.as_os_str().to_owned();
                backup.push(format!(".corrupt-{stamp}"));
                let backup = PathBuf::from(backup);
                write_atomic(&backup, &bytes).map_err(|source| WorkspaceError::Io {
                    action: "backing up",
                    path: backup.clone(),
                    source,
                })?;
                Err(WorkspaceError::Corrupt { backup, source })
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

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionEntry> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// A name based on `base` that no function has yet (`base`, `base-2`, …).
    pub fn unique_name(&self, base: &str) -> String {
        let base = sanitize_name(base);
        if self.function(&base).is_none() {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|candidate| self.function(candidate).is_none())
            .unwrap_or(base)
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

/// Lambda function names: letters, digits, `-` and `_`, at most 64 characters.
pub fn sanitize_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "function".to_owned()
    } else {
        name
    }
}

/// Writes `bytes` to `path` so that a reader sees either the old or the new
/// content, never a torn file: a temporary file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        fs::create_dir_all(dir)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = dir
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_backup() {
        let dir = std::env::temp_dir().join(format!("lambdesk-ws-{}", uuid::Uuid::new_v4()));
        let path = dir.join(WORKSPACE_FILE);
        assert!(Workspace::load(&path).unwrap().is_none());
        let ws = Workspace {
            version: 1,
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
