//! Functions created, changed and deleted through the Lambda API
//! (`CreateFunction`, `UpdateFunctionCode`, `UpdateFunctionConfiguration`,
//! `DeleteFunction`), as scripts and infrastructure-as-code tools do against
//! AWS: the code (a zip or a module, or a local path as LocalStack's
//! `hot-reload` bucket) is kept in the workspace's `functions/` folder, the
//! function is deployed in the runtime, and whoever owns the workspace (the
//! app, or `serve`) is told through a sink so the change is saved and shown.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::versions::{VersionError, Versions};
use crate::model::FunctionConfig;
use crate::runtime::{Runtime, function_arn};

/// A change made through the API, for the workspace's owner.
#[derive(Clone, Debug, PartialEq)]
pub enum FunctionChange {
    /// A new function.
    Created {
        /// Its name.
        name: String,
        /// Where its code is kept.
        code: PathBuf,
        /// Its settings.
        config: FunctionConfig,
    },
    /// New code for `$LATEST`.
    CodeUpdated {
        /// The function.
        name: String,
        /// Where the new code is kept.
        code: PathBuf,
    },
    /// New settings for `$LATEST`.
    ConfigUpdated {
        /// The function.
        name: String,
        /// The settings now.
        config: FunctionConfig,
    },
    /// The function, its versions and aliases are gone.
    Deleted {
        /// The function.
        name: String,
    },
}

/// Receives every change (on the API's thread: it must not block for long).
pub type FunctionsSink = Arc<dyn Fn(FunctionChange) + Send + Sync>;

/// Where new code comes from.
#[derive(Clone, Debug)]
pub enum CodeInput {
    /// `Code.ZipFile`: a zip holding a module, or a module itself.
    Bytes(Vec<u8>),
    /// A file on this machine (LocalStack's `S3Bucket: hot-reload`, `S3Key: PATH`).
    Path(PathBuf),
}

/// The runtimes a function can have here: custom runtimes, whose code is a
/// WebAssembly module.
pub const RUNTIMES: [&str; 3] = crate::model::config::CUSTOM_RUNTIMES;

/// Settings a `CreateFunction` or `UpdateFunctionConfiguration` gives.
#[derive(Clone, Debug, Default)]
pub struct ConfigChanges {
    /// `Handler`.
    pub handler: Option<String>,
    /// `MemorySize`.
    pub memory_mb: Option<u32>,
    /// `Timeout`.
    pub timeout_s: Option<u32>,
    /// `EphemeralStorage.Size`.
    pub ephemeral_storage_mb: Option<u32>,
    /// `Environment.Variables` (replaces them all, as AWS).
    pub environment: Option<std::collections::BTreeMap<String, String>>,
    /// `Role` (its name is kept as the role's label).
    pub role: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `SnapStart.ApplyOn` is `PublishedVersions`.
    pub snap_start: Option<bool>,
    /// `Runtime` (UpdateFunctionConfiguration: another version of the same
    /// language; the code stays).
    pub runtime: Option<String>,
}

impl ConfigChanges {
    fn apply(&self, mut c: FunctionConfig) -> FunctionConfig {
        if let Some(h) = &self.handler {
            c.handler.clone_from(h);
        }
        if let Some(m) = self.memory_mb {
            c.memory_mb = m;
        }
        if let Some(t) = self.timeout_s {
            c.timeout_s = t;
        }
        if let Some(e) = self.ephemeral_storage_mb {
            c.ephemeral_storage_mb = e;
        }
        if let Some(env) = &self.environment {
            c.environment.clone_from(env);
        }
        if let Some(d) = &self.description {
            c.description.clone_from(d);
        }
        if let Some(s) = self.snap_start {
            c.snap_start = s;
        }
        if let Some(r) = &self.runtime {
            c.runtime_id.clone_from(r);
        }
        if let Some(role) = &self.role {
            c.role.name = role.rsplit('/').next().unwrap_or(role).to_owned();
        }
        c
    }
}

/// The language of a `Runtime` a request gives, or AWS's enum error.
fn runtime_language(r: &str) -> Result<crate::model::Language, VersionError> {
    crate::model::config::language_of_runtime_id(r).ok_or_else(|| {
        invalid(format!(
            "Value {r} at 'runtime' failed to satisfy constraint: Member must satisfy \
             enum value set: [provided.al2023, provided.al2, provided, nodejs18.x, \
             nodejs20.x, nodejs22.x, nodejs24.x, python3.9, python3.10, python3.11, \
             python3.12, python3.13, python3.14]"
        ))
    })
}

/// Lambda's limit on a direct upload (`Code.ZipFile`), zipped.
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;

/// Functions managed through the API.
pub struct Functions {
    runtime: Runtime,
    versions: Arc<Versions>,
    dir: PathBuf,
    sink: Option<FunctionsSink>,
    /// One change at a time (a create racing a delete of the same name).
    busy: Mutex<()>,
}

fn invalid(message: String) -> VersionError {
    VersionError::InvalidParameter(message)
}

impl Functions {
    /// Functions whose code is kept in `dir`, told to `sink`.
    pub fn new(
        runtime: Runtime,
        versions: Arc<Versions>,
        dir: PathBuf,
        sink: Option<FunctionsSink>,
    ) -> Self {
        Self {
            runtime,
            versions,
            dir,
            sink,
            busy: Mutex::new(()),
        }
    }

    fn tell(&self, change: FunctionChange) {
        if let Some(s) = &self.sink {
            s(change);
        }
    }

    /// Keeps the code: uploaded bytes go to `functions/NAME/<sha256>.zip`
    /// (or `.wasm`); a local path is used where it is.
    fn keep(&self, name: &str, code: &CodeInput) -> Result<PathBuf, VersionError> {
        match code {
            CodeInput::Path(p) => {
                if !p.is_absolute() || !p.is_file() {
                    return Err(invalid(format!(
                        "S3Key must be the absolute path of a .wasm, .wat or .zip file on this machine: {}",
                        p.display()
                    )));
                }
                Ok(p.clone())
            }
            CodeInput::Bytes(bytes) => {
                if bytes.len() > MAX_ZIP_BYTES {
                    return Err(VersionError::Validation(format!(
                        "Unzipped size must be smaller than {MAX_ZIP_BYTES} bytes"
                    )));
                }
                let ext = if bytes.starts_with(b"PK\x03\x04") {
                    "zip"
                } else if bytes.starts_with(b"\0asm") {
                    "wasm"
                } else {
                    return Err(invalid(
                        "Could not unzip uploaded file. Please check your file, then try to upload again."
                            .into(),
                    ));
                };
                let digest: String = Sha256::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let folder = self.dir.join(name);
                let path = folder.join(format!("{digest}.{ext}"));
                std::fs::create_dir_all(&folder)
                    .and_then(|()| crate::store::write_atomic(&path, bytes))
                    .map_err(|e| {
                        VersionError::Service(format!(
                            "keeping the code in {}: {e}",
                            path.display()
                        ))
                    })?;
                Ok(path)
            }
        }
    }

    fn deploy(&self, name: &str, code: &Path, config: FunctionConfig) -> Result<(), VersionError> {
        self.runtime
            .deploy(name, code, config)
            .map(|_| ())
            .map_err(|e| match e {
                crate::runtime::DeployError::Config(errors) => VersionError::Validation(
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                crate::runtime::DeployError::Code(c) => invalid(c.to_string()),
            })
    }

    fn check_revision(&self, name: &str, revision: Option<&str>) -> Result<(), VersionError> {
        match (revision, self.versions.latest_revision(name)) {
            (Some(r), Some(current)) if r != current => Err(VersionError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. \
                     Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// `CreateFunction`.
    pub fn create(
        &self,
        name: &str,
        runtime: Option<&str>,
        code: &CodeInput,
        changes: &ConfigChanges,
    ) -> Result<(), VersionError> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(VersionError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)"
            )));
        }
        // A module on a custom runtime, or JavaScript or Python source
        // (`nodejs18.x` … `nodejs24.x`, `python3.9` … `python3.14`).
        let language = match runtime {
            None => crate::model::Language::Wasm,
            Some(r) => runtime_language(r)?,
        };
        if self.runtime.has_function(name) {
            return Err(VersionError::Conflict(format!(
                "Function already exist: {name}"
            )));
        }
        let path = self.keep(name, code)?;
        let config = changes.apply(FunctionConfig {
            runtime: language,
            runtime_id: runtime.unwrap_or_default().to_owned(),
            handler: if language.is_source() {
                language.default_handler().into()
            } else {
                "handler".into()
            },
            ..FunctionConfig::default()
        });
        self.deploy(name, &path, config.clone())?;
        self.tell(FunctionChange::Created {
            name: name.to_owned(),
            code: path,
            config,
        });
        Ok(())
    }

    /// `UpdateFunctionCode` (of `$LATEST`).
    pub fn update_code(
        &self,
        name: &str,
        code: &CodeInput,
        revision: Option<&str>,
    ) -> Result<(), VersionError> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let config = self.runtime.config(name).ok_or_else(|| {
            VersionError::NotFound(format!("Function not found: {}", function_arn(name)))
        })?;
        self.check_revision(name, revision)?;
        let path = self.keep(name, code)?;
        self.deploy(name, &path, config)?;
        self.tell(FunctionChange::CodeUpdated {
            name: name.to_owned(),
            code: path,
        });
        Ok(())
    }

    /// `UpdateFunctionConfiguration` (of `$LATEST`).
    pub fn update_configuration(
        &self,
        name: &str,
        changes: &ConfigChanges,
        revision: Option<&str>,
    ) -> Result<(), VersionError> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(info), Some(current)) =
            (self.runtime.deploy_info(name), self.runtime.config(name))
        else {
            return Err(VersionError::NotFound(format!(
                "Function not found: {}",
                function_arn(name)
            )));
        };
        self.check_revision(name, revision)?;
        if let Some(r) = &changes.runtime {
            let language = runtime_language(r)?;
            if language != current.runtime {
                // AWS would take it and fail every invocation: the code is
                // the other language's.
                return Err(invalid(format!(
                    "The runtime of {name} is {}: its code cannot run on {r}. Create a function for {} code.",
                    current.runtime.title(),
                    language.title()
                )));
            }
        }
        let config = changes.apply(current);
        self.deploy(name, &info.origin, config.clone())?;
        self.tell(FunctionChange::ConfigUpdated {
            name: name.to_owned(),
            config,
        });
        Ok(())
    }

    /// `DeleteFunction` of the whole function: `$LATEST`, its versions and aliases.
    pub fn delete(&self, name: &str) -> Result<(), VersionError> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if !self.runtime.remove(name) {
            return Err(VersionError::NotFound(format!(
                "Function not found: {}",
                function_arn(name)
            )));
        }
        self.versions.remove_function(name)?;
        self.tell(FunctionChange::Deleted {
            name: name.to_owned(),
        });
        Ok(())
    }
}
