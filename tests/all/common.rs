//! Shared helpers: a runtime with private folders, sample paths, log capture.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lambdesk::model::FunctionConfig;
use lambdesk::runtime::{LogLine, LogSink, Runtime, RuntimeOptions};

/// A folder that is removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "lambdesk-test-{tag}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A runtime with its own cache and scratch folders.
pub struct TestRuntime {
    pub runtime: Runtime,
    #[allow(dead_code, reason = "keeps the folder alive as long as the runtime")]
    pub dir: TempDir,
}

pub fn runtime() -> TestRuntime {
    let dir = TempDir::new("rt");
    runtime_in(dir)
}

pub fn runtime_in(dir: TempDir) -> TestRuntime {
    let options = RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 64,
        ..RuntimeOptions::default()
    };
    TestRuntime {
        runtime: Runtime::new(options).unwrap(),
        dir,
    }
}

pub fn sample(file: &str) -> PathBuf {
    let dir = if file.ends_with(".wat") {
        "wat"
    } else {
        "dist"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions")
        .join(dir)
        .join(file)
}

pub fn config(handler: &str) -> FunctionConfig {
    FunctionConfig {
        handler: handler.to_owned(),
        ..FunctionConfig::default()
    }
}

/// Collects log lines with the moment they arrived.
#[derive(Clone, Default)]
pub struct Logs(pub Arc<Mutex<Vec<(Instant, LogLine)>>>);

impl Logs {
    pub fn sink(&self) -> LogSink {
        let lines = self.0.clone();
        Arc::new(move |line| lines.lock().unwrap().push((Instant::now(), line)))
    }
    /// Whether a line of this kind arrived.
    pub fn any(&self, kind: lambdesk::runtime::LogKind) -> bool {
        self.0.lock().unwrap().iter().any(|(_, l)| l.kind == kind)
    }
    pub fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.text.clone())
            .collect()
    }
}

/// Writes a WAT module into `dir` and returns its path.
pub fn wat(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, text).unwrap();
    path
}
