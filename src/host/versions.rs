//! Published versions and aliases of the runtime's functions, kept in the
//! workspace (`versions/versions.json`, and each version's code copied into
//! `versions/code/` under its SHA-256, so editing or deleting the source
//! never changes a published version). Every version is deployed in the
//! runtime as `name:N` with its own environments; an alias resolves to a
//! version, by weight when it routes to two. Rules, error types and messages
//! are AWS's; the Lambda API ([`crate::api`]) and the app call these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::notify::Notifier;
use crate::model::FunctionConfig;
use crate::model::versions::{
    Alias, FunctionVersions, PublishedVersion, Qualifier, VersionsFile, validate_alias_name,
    validate_routing,
};
use crate::runtime::{Runtime, function_arn, version_key};

/// A refused request: AWS's status, error type and message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// 404 `ResourceNotFoundException`.
    #[error("ResourceNotFoundException: {0}")]
    NotFound(String),
    /// 409 `ResourceConflictException`.
    #[error("ResourceConflictException: {0}")]
    Conflict(String),
    /// 412 `PreconditionFailedException`.
    #[error("PreconditionFailedException: {0}")]
    PreconditionFailed(String),
    /// 400 `InvalidParameterValueException`.
    #[error("InvalidParameterValueException: {0}")]
    InvalidParameter(String),
    /// 400 `ValidationException`.
    #[error("ValidationException: {0}")]
    Validation(String),
    /// 500 `ServiceException`: the workspace could not be written.
    #[error("ServiceException: {0}")]
    Service(String),
}

impl VersionError {
    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::PreconditionFailed(_) => 412,
            Self::InvalidParameter(_) | Self::Validation(_) => 400,
            Self::Service(_) => 500,
        }
    }

    /// AWS's error type (`x-amzn-ErrorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::Conflict(_) => "ResourceConflictException",
            Self::PreconditionFailed(_) => "PreconditionFailedException",
            Self::InvalidParameter(_) => "InvalidParameterValueException",
            Self::Validation(_) => "ValidationException",
            Self::Service(_) => "ServiceException",
        }
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Conflict(m)
            | Self::PreconditionFailed(m)
            | Self::InvalidParameter(m)
            | Self::Validation(m)
            | Self::Service(m) => m,
        }
    }
}

fn not_found(name: &str, qualifier: Option<&str>) -> VersionError {
    let arn = match qualifier {
        Some(q) => format!("{}:{q}", function_arn(name)),
        None => function_arn(name),
    };
    VersionError::NotFound(format!("Function not found: {arn}"))
}

fn alias_not_found(name: &str, alias: &str) -> VersionError {
    VersionError::NotFound(format!("Alias not found: {}:{alias}", function_arn(name)))
}

const REVISION_MISMATCH: &str = "The Revision Id provided does not match the latest Revision Id. \
     Call the GetFunction/GetAlias API to retrieve the latest Revision Id";

/// A new random revision id (a UUID, as AWS's).
fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What an invocation through a qualifier runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The runtime's key (`name` or `name:N`).
    pub key: String,
    /// `$LATEST` or the version number that runs.
    pub executed_version: String,
    /// The ARN as invoked (with the qualifier, when one was given).
    pub invoked_arn: String,
}

/// The versions and aliases of every function.
pub struct Versions {
    runtime: Runtime,
    dir: PathBuf,
    state: Mutex<VersionsFile>,
    notify: Notifier,
}

impl Versions {
    /// Opens the store in `dir` (made if missing) and deploys every published
    /// version in `runtime`. A damaged file is kept aside and reported, never
    /// overwritten silently; versions whose code cannot run are reported too.
    pub fn open(
        runtime: Runtime,
        dir: PathBuf,
        notify: Option<super::notify::Notify>,
    ) -> (Arc<Self>, Vec<String>) {
        let mut problems = Vec::new();
        let path = dir.join("versions.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<VersionsFile>(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    let aside = dir.join(format!(
                        "versions.json.corrupt-{}",
                        chrono::Utc::now().format("%Y%m%dT%H%M%S")
                    ));
                    let _ = std::fs::rename(&path, &aside);
                    problems.push(format!(
                        "{} is damaged ({e}); kept as {}",
                        path.display(),
                        aside.display()
                    ));
                    VersionsFile::default()
                }
            },
            Err(_) => VersionsFile::default(),
        };
        let me = Arc::new(Self {
            runtime,
            dir,
            state: Mutex::new(state),
            notify: Notifier(notify),
        });
        let all: Vec<(String, PublishedVersion)> = me
            .lock()
            .functions
            .iter()
            .flat_map(|(n, f)| f.versions.values().map(|v| (n.clone(), v.clone())))
            .collect();
        for (name, v) in all {
            // At start-up a SnapStart version restores the snapshot kept
            // when it was published: its INIT does not run again.
            if let Err(e) = me.deploy(&name, &v, true) {
                problems.push(format!("{name} version {}: {e}", v.version));
            }
        }
        (me, problems)
    }

    fn lock(&self) -> MutexGuard<'_, VersionsFile> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn code_dir(&self) -> PathBuf {
        self.dir.join("code")
    }

    /// Where a SnapStart version's snapshot is kept: named by its revision,
    /// so a version deleted and published again never finds the old one.
    fn snapshot_file(&self, name: &str, v: &PublishedVersion) -> PathBuf {
        self.dir
            .join("snapshots")
            .join(format!("{name}-{}-{}.wasm", v.version, v.revision_id))
    }

    fn deploy(&self, name: &str, v: &PublishedVersion, reuse: bool) -> Result<(), String> {
        let bundle = self
            .runtime
            .load_code_for(v.config.runtime, &self.code_dir().join(&v.code_file))
            .map_err(|e| e.to_string())?;
        let kept = v.config.snap_start.then(|| crate::runtime::KeptSnapshot {
            path: self.snapshot_file(name, v),
            reuse,
        });
        self.runtime
            .deploy_version_kept(name, v.version, &bundle, v.config.clone(), kept.as_ref())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn save(&self, state: &VersionsFile) -> Result<(), VersionError> {
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| VersionError::Service(format!("encoding versions: {e}")))?;
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| crate::store::write_atomic(&self.dir.join("versions.json"), &bytes))
            .map_err(|e| {
                VersionError::Service(format!("saving versions in {}: {e}", self.dir.display()))
            })?;
        self.notify.changed();
        Ok(())
    }

    /// `$LATEST`'s revision id: it changes exactly when its code or
    /// configuration does (a digest of both, in UUID form).
    pub fn latest_revision(&self, name: &str) -> Option<String> {
        let info = self.runtime.deploy_info(name)?;
        let config = self.runtime.config(name)?;
        Some(revision_of(&info.code_sha256, &config))
    }

    /// `PublishVersion`: a new version from `$LATEST`, or the last one when
    /// neither code nor configuration changed since (AWS answers it again).
    pub fn publish(
        &self,
        name: &str,
        description: Option<&str>,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<PublishedVersion, VersionError> {
        let info = self
            .runtime
            .deploy_info(name)
            .ok_or_else(|| not_found(name, None))?;
        let config = self
            .runtime
            .config(name)
            .ok_or_else(|| not_found(name, None))?;
        if let Some(r) = revision_id
            && r != revision_of(&info.code_sha256, &config)
        {
            return Err(VersionError::PreconditionFailed(REVISION_MISMATCH.into()));
        }
        let current = info.code_sha256_base64();
        if let Some(given) = code_sha256
            && given != current
        {
            return Err(VersionError::InvalidParameter(format!(
                "CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST ({current}). \
                 Please try again with the CodeSHA256 in $LATEST."
            )));
        }
        // The number is taken under the lock; the copy and the compile run
        // without it, so readers (the app's frame) never wait for them.
        let number = {
            let mut state = self.lock();
            let entry = state.functions.entry(name.to_owned()).or_default();
            if let Some(last) = entry.versions.values().next_back()
                && last.code_sha256 == info.code_sha256
                && last.config == config
            {
                return Ok(last.clone());
            }
            entry.last_version += 1;
            entry.last_version
        };
        let (code_file, code_size) = self.keep_code(&info.origin)?;
        let version = PublishedVersion {
            version: number,
            // As AWS: the publish's description, else $LATEST's.
            description: description
                .filter(|d| !d.is_empty())
                .map_or_else(|| config.description.clone(), str::to_owned),
            code_sha256: info.code_sha256.clone(),
            code_file,
            code_size,
            config,
            created: chrono::Utc::now(),
            revision_id: new_revision(),
        };
        self.deploy(name, &version, false)
            .map_err(|e| VersionError::Service(format!("deploying the new version: {e}")))?;
        let mut state = self.lock();
        let entry = state.functions.entry(name.to_owned()).or_default();
        entry.versions.insert(version.version, version.clone());
        let saved = self.save(&state);
        if let Err(e) = saved {
            // Not kept: neither is it served.
            if let Some(f) = state.functions.get_mut(name) {
                f.versions.remove(&version.version);
            }
            self.runtime
                .remove(&version_key(name, &version.version.to_string()));
            let _ = std::fs::remove_file(self.snapshot_file(name, &version));
            return Err(e);
        }
        Ok(version)
    }

    /// A copy of everything, or `None` while a writer holds the store (a
    /// frame tries again later instead of waiting).
    pub fn try_snapshot(&self) -> Option<VersionsFile> {
        match self.state.try_lock() {
            Ok(s) => Some(s.clone()),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner().clone()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Copies the code file into the store under its content's SHA-256.
    fn keep_code(&self, origin: &Path) -> Result<(String, u64), VersionError> {
        let bytes = package(origin).map_err(|e| {
            VersionError::Service(format!("reading the code {}: {e}", origin.display()))
        })?;
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Source code is kept as a zip of its folder (or of its one file).
        let ext = if bytes.starts_with(b"PK\x03\x04") {
            "zip"
        } else {
            origin
                .extension()
                .and_then(|e| e.to_str())
                .filter(|e| matches!(*e, "wasm" | "wat" | "zip"))
                .unwrap_or("wasm")
        };
        let file = format!("{digest}.{ext}");
        let path = self.code_dir().join(&file);
        if !path.exists() {
            std::fs::create_dir_all(self.code_dir())
                .and_then(|()| crate::store::write_atomic(&path, &bytes))
                .map_err(|e| {
                    VersionError::Service(format!("keeping the code in {}: {e}", path.display()))
                })?;
        }
        Ok((file, bytes.len() as u64))
    }

    /// The published versions of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Vec<PublishedVersion> {
        self.lock()
            .functions
            .get(name)
            .map(|f| f.versions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One published version.
    pub fn version(&self, name: &str, version: u64) -> Option<PublishedVersion> {
        self.lock()
            .functions
            .get(name)?
            .versions
            .get(&version)
            .cloned()
    }

    /// `DeleteFunction` with a version: refused while an alias uses it.
    pub fn delete_version(&self, name: &str, version: u64) -> Result<(), VersionError> {
        let mut state = self.lock();
        let f = state
            .functions
            .get_mut(name)
            .filter(|f| f.versions.contains_key(&version))
            .ok_or_else(|| not_found(name, Some(&version.to_string())))?;
        let v = version.to_string();
        let users: Vec<&str> = f
            .aliases
            .values()
            .filter(|a| {
                a.function_version == v || a.routing.as_ref().is_some_and(|r| r.version == v)
            })
            .map(|a| a.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(VersionError::Conflict(format!(
                "Unable to delete version because the following aliases reference it: [{}]",
                users.join(", ")
            )));
        }
        if let Some(gone) = f.versions.remove(&version) {
            let _ = std::fs::remove_file(self.snapshot_file(name, &gone));
        }
        self.runtime.remove(&version_key(name, &v));
        self.save(&state)
    }

    /// Forgets every version and alias of a deleted function.
    pub fn remove_function(&self, name: &str) -> Result<(), VersionError> {
        let mut state = self.lock();
        if let Some(f) = state.functions.remove(name) {
            for v in f.versions.values() {
                let _ = std::fs::remove_file(self.snapshot_file(name, v));
            }
            self.save(&state)?;
        }
        Ok(())
    }

    /// Whether `version` (`$LATEST` or a number) exists for `name`.
    fn check_target(
        &self,
        f: Option<&FunctionVersions>,
        name: &str,
        version: &str,
    ) -> Result<(), VersionError> {
        let exists = match Qualifier::parse(Some(version)) {
            Ok(Qualifier::Latest) => self.runtime.has_function(name),
            Ok(Qualifier::Version(n)) => f.is_some_and(|f| f.versions.contains_key(&n)),
            // An alias cannot point to another alias.
            Ok(Qualifier::Alias(_)) | Err(_) => {
                return Err(VersionError::Validation(format!(
                    "1 validation error detected: Value '{version}' at 'functionVersion' failed to \
                     satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
                )));
            }
        };
        if exists {
            Ok(())
        } else {
            Err(not_found(name, Some(version)))
        }
    }

    /// `CreateAlias`.
    pub fn create_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        description: Option<&str>,
        weights: &BTreeMap<String, f64>,
    ) -> Result<Alias, VersionError> {
        validate_alias_name(alias).map_err(VersionError::Validation)?;
        if !self.runtime.has_function(name) {
            return Err(not_found(name, None));
        }
        let mut state = self.lock();
        self.check_target(state.functions.get(name), name, version)?;
        let routing = validate_routing(version, weights).map_err(problem)?;
        if let Some(r) = &routing {
            self.check_target(state.functions.get(name), name, &r.version)?;
        }
        let f = state.functions.entry(name.to_owned()).or_default();
        if f.aliases.contains_key(alias) {
            return Err(VersionError::Conflict(format!(
                "Alias already exists: {}:{alias}",
                function_arn(name)
            )));
        }
        let a = Alias {
            name: alias.to_owned(),
            function_version: version.to_owned(),
            description: description.unwrap_or_default().to_owned(),
            routing,
            revision_id: new_revision(),
        };
        f.aliases.insert(alias.to_owned(), a.clone());
        self.save(&state)?;
        Ok(a)
    }

    /// `GetAlias`.
    pub fn alias(&self, name: &str, alias: &str) -> Result<Alias, VersionError> {
        self.lock()
            .functions
            .get(name)
            .and_then(|f| f.aliases.get(alias))
            .cloned()
            .ok_or_else(|| alias_not_found(name, alias))
    }

    /// `UpdateAlias`: any of the version, description and routing; a
    /// mismatching revision id is refused (412).
    pub fn update_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<&str>,
        description: Option<&str>,
        weights: Option<&BTreeMap<String, f64>>,
        revision_id: Option<&str>,
    ) -> Result<Alias, VersionError> {
        let mut state = self.lock();
        let mut a = state
            .functions
            .get(name)
            .and_then(|f| f.aliases.get(alias))
            .cloned()
            .ok_or_else(|| alias_not_found(name, alias))?;
        if let Some(r) = revision_id
            && r != a.revision_id
        {
            return Err(VersionError::PreconditionFailed(REVISION_MISMATCH.into()));
        }
        if let Some(v) = version {
            self.check_target(state.functions.get(name), name, v)?;
            a.function_version = v.to_owned();
        }
        if let Some(d) = description {
            a.description = d.to_owned();
        }
        let weights = match (weights, &a.routing) {
            (Some(w), _) => Some(w.clone()),
            // A new main version keeps the routing, checked again.
            (None, Some(r)) => Some(BTreeMap::from([(r.version.clone(), r.weight)])),
            (None, None) => None,
        };
        if let Some(w) = weights {
            a.routing = validate_routing(&a.function_version, &w).map_err(problem)?;
            if let Some(r) = &a.routing {
                self.check_target(state.functions.get(name), name, &r.version)?;
            }
        }
        a.revision_id = new_revision();
        state
            .functions
            .entry(name.to_owned())
            .or_default()
            .aliases
            .insert(alias.to_owned(), a.clone());
        self.save(&state)?;
        Ok(a)
    }

    /// `DeleteAlias` (nothing to do for a missing alias, as AWS).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<(), VersionError> {
        let mut state = self.lock();
        let removed = state
            .functions
            .get_mut(name)
            .and_then(|f| f.aliases.remove(alias));
        if removed.is_some() {
            self.save(&state)?;
        }
        Ok(())
    }

    /// `ListAliases`, optionally of one version.
    pub fn aliases(&self, name: &str, version: Option<&str>) -> Vec<Alias> {
        self.lock()
            .functions
            .get(name)
            .map(|f| {
                f.aliases
                    .values()
                    .filter(|a| version.is_none_or(|v| a.function_version == v))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What an invocation of `name` with `qualifier` runs: `$LATEST`, a
    /// version, or an alias's version (drawn by weight when it routes).
    pub fn resolve(&self, name: &str, qualifier: Option<&str>) -> Result<Resolved, VersionError> {
        self.resolve_with(name, qualifier, rand_unit())
    }

    /// [`Versions::resolve`] with the draw given (0 ≤ `draw` < 1).
    pub fn resolve_with(
        &self,
        name: &str,
        qualifier: Option<&str>,
        draw: f64,
    ) -> Result<Resolved, VersionError> {
        let invoked_arn = match qualifier {
            Some(q) => format!("{}:{q}", function_arn(name)),
            None => function_arn(name),
        };
        let q = Qualifier::parse(qualifier).map_err(|_| not_found(name, qualifier))?;
        let version = match q {
            Qualifier::Latest => "$LATEST".to_owned(),
            Qualifier::Version(n) => {
                if self.version(name, n).is_none() {
                    return Err(not_found(name, qualifier));
                }
                n.to_string()
            }
            Qualifier::Alias(alias) => {
                let a = self
                    .alias(name, &alias)
                    .map_err(|_| not_found(name, qualifier))?;
                match &a.routing {
                    Some(r) if draw < r.weight => r.version.clone(),
                    _ => a.function_version,
                }
            }
        };
        let key = version_key(name, &version);
        if !self.runtime.has_function(&key) {
            return Err(not_found(name, qualifier));
        }
        Ok(Resolved {
            key,
            executed_version: version,
            invoked_arn,
        })
    }
}

fn problem(p: crate::model::versions::AliasProblem) -> VersionError {
    if p.error_type == "ValidationException" {
        VersionError::Validation(p.message)
    } else {
        VersionError::InvalidParameter(p.message)
    }
}

/// A uniform draw in [0, 1).
fn rand_unit() -> f64 {
    // A v4 UUID's bytes 6 and 8 carry its version and variant: skip them.
    let b = uuid::Uuid::new_v4().into_bytes();
    let bits = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[7], b[9]]) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// A revision id from code and configuration (UUID form).
fn revision_of(code_sha256: &str, config: &FunctionConfig) -> String {
    let mut h = Sha256::new();
    h.update(code_sha256.as_bytes());
    h.update(serde_json::to_vec(config).unwrap_or_default());
    let d = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The code to keep for a version: a module's file as it is; source code (a
/// folder, or one `.js`/`.mjs`/`.cjs`/`.py` file) as a zip of its files, in path
/// order, so a version keeps what it ran even when the folder changes.
fn package(origin: &Path) -> std::io::Result<Vec<u8>> {
    let is_source_file = origin
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "js" | "mjs" | "cjs" | "py"));
    if !origin.is_dir() && !is_source_file {
        return std::fs::read(origin);
    }
    let mut files = Vec::new();
    if origin.is_dir() {
        let mut stack = vec![origin.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    files.push(entry.path());
                }
            }
        }
    } else {
        files.push(origin.to_owned());
    }
    files.sort();
    let base = if origin.is_dir() {
        origin
    } else {
        origin.parent().unwrap_or(origin)
    };
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for f in files {
        let name = f
            .strip_prefix(base)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        out.start_file(name, options)
            .map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut out, &std::fs::read(&f)?)?;
    }
    Ok(out.finish().map_err(std::io::Error::other)?.into_inner())
}
