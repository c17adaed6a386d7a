//! Loading a function's code: a `.wasm` module, a `.wat` text module, or a
//! `.zip` bundle (one module plus files that become `/var/task`), with clear
//! errors for everything that is not a runnable module; and source code for
//! a language runtime (a folder, a zip or one file, which becomes
//! `/var/task`, run by the runtime's module embedded in the binary).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::Language;

/// Code ready to compile.
#[derive(Clone, Debug)]
pub struct CodeBundle {
    /// The module's binary.
    pub wasm: Vec<u8>,
    /// SHA-256 of the binary.
    pub sha256: [u8; 32],
    /// A folder with the bundle's files, mounted read-only at `/var/task`.
    pub task_root: Option<PathBuf>,
    /// Where the code was read from.
    pub origin: PathBuf,
    /// For source code: the package's SHA-256 and size (Lambda's
    /// `CodeSha256` and `CodeSize`: of the file, the zip, or the folder's
    /// files); a module's are its own.
    pub package: Option<([u8; 32], u64)>,
}

impl CodeBundle {
    /// The package's SHA-256 in hex (`CodeSha256`).
    pub fn sha256_hex(&self) -> String {
        hex(&self.package.map_or(self.sha256, |p| p.0))
    }

    /// The package's size in bytes (`CodeSize`).
    pub fn code_size(&self) -> u64 {
        self.package.map_or(self.wasm.len() as u64, |p| p.1)
    }
}

/// When the code last changed: a file's modification time; for a folder
/// (source code), the newest of its files' (at most 2,000 looked at, and
/// not inside `node_modules`).
pub fn code_modified(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let mut newest = meta.modified().ok()?;
    let mut stack = vec![path.to_owned()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            seen += 1;
            if seen > 2_000 {
                return Some(newest);
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != "node_modules" {
                    stack.push(entry.path());
                }
                if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                    newest = newest.max(t);
                }
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                newest = newest.max(t);
            }
        }
    }
    Some(newest)
}

/// The code cannot become a function.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Neither a wasm binary nor WebAssembly text.
    #[error("not a WebAssembly module (no `\\0asm` header and not WebAssembly text): {path}")]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// A component, not a core module.
    #[error(
        "this is a WebAssembly component; Lambdesk runs core modules that target WASI preview 1 (wasm32-wasip1): {path}"
    )]
    Component {
        /// The file.
        path: PathBuf,
    },
    /// WebAssembly text that does not parse.
    #[error("invalid WebAssembly text: {0}")]
    InvalidText(String),
    /// A binary that does not validate or compile.
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    /// The handler is not an exported function.
    #[error("no entry point: the module exports no function `{handler}` (exported functions: {})", if exports.is_empty() { "none".to_owned() } else { exports.join(", ") })]
    NoEntryPoint {
        /// The configured handler.
        handler: String,
        /// The functions the module does export.
        exports: Vec<String>,
    },
    /// The handler has a signature the runtime cannot call.
    #[error(
        "the handler `{handler}` must take no parameters and return nothing or an i32 status; it is {signature}"
    )]
    BadHandlerSignature {
        /// The configured handler.
        handler: String,
        /// Its actual type.
        signature: String,
    },
    /// Imports that neither WASI preview 1 nor Lambdesk provide.
    #[error("the module imports what no one provides: {}", .0.join(", "))]
    UnresolvedImports(Vec<String>),
    /// A zip with no `.wasm` inside.
    #[error("the zip bundle contains no .wasm module: {path}")]
    ZipWithoutModule {
        /// The bundle.
        path: PathBuf,
    },
    /// A zip with several modules and none called `bootstrap.wasm` or `function.wasm`.
    #[error("the zip bundle contains several modules ({}); name the one to run bootstrap.wasm: {path}", modules.join(", "))]
    ZipAmbiguous {
        /// The bundle.
        path: PathBuf,
        /// The modules found.
        modules: Vec<String>,
    },
    /// A package over one of Lambda's deployment package limits.
    #[error("{what} size must be smaller than {limit} bytes (Lambda's limit): {path}")]
    TooLarge {
        /// `Zipped` or `Unzipped`, as Lambda words it.
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
        /// The package.
        path: PathBuf,
    },
    /// A damaged zip.
    #[error("cannot read the zip bundle {path}: {message}")]
    Zip {
        /// The bundle.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lambda's limit on a zipped deployment package: 50 MB.
pub const MAX_ZIPPED_BYTES: u64 = 50 * 1024 * 1024;
/// Lambda's limit on a package unzipped (and so on a module): 250 MB.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// Reads code from `path`. Zip bundles are unpacked below `bundles_dir`,
/// within Lambda's package limits, checked while inflating.
pub fn load_code(path: &Path, bundles_dir: &Path) -> Result<CodeBundle, CodeError> {
    let io = |source| CodeError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io)?;
    let is_zip = magic[..n] == *b"PK\x03\x04" || path.extension().is_some_and(|e| e == "zip");
    let (what, limit) = if is_zip {
        ("Zipped", MAX_ZIPPED_BYTES)
    } else {
        ("Unzipped", MAX_UNZIPPED_BYTES)
    };
    let too_large = || CodeError::TooLarge {
        what,
        limit,
        path: path.to_owned(),
    };
    if file.metadata().map_err(io)?.len() > limit {
        return Err(too_large());
    }
    // The size can change between the check and the read: read at most the limit.
    let mut bytes = magic[..n].to_vec();
    file.take(limit + 1 - n as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    if is_zip {
        return load_zip(path, &bytes, bundles_dir);
    }
    let wasm = module_bytes(path, bytes)?;
    Ok(CodeBundle {
        sha256: sha256(&wasm),
        wasm,
        task_root: None,
        origin: path.to_owned(),
        package: None,
    })
}

/// Turns file content into a core module binary: checks the header, or parses
/// WebAssembly text.
pub fn module_bytes(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, CodeError> {
    if bytes.starts_with(b"\0asm") {
        if bytes.get(4..8) != Some(&[1, 0, 0, 0]) {
            return Err(CodeError::Component {
                path: path.to_owned(),
            });
        }
        return Ok(bytes);
    }
    let looks_like_text = std::str::from_utf8(&bytes)
        .map(|s| {
            let s = s.trim_start();
            s.starts_with('(') || s.starts_with(";;")
        })
        .unwrap_or(false);
    if !looks_like_text {
        return Err(CodeError::NotWasm {
            path: path.to_owned(),
        });
    }
    wat::parse_bytes(&bytes)
        .map(|b| b.into_owned())
        .map_err(|e| CodeError::InvalidText(e.to_string()))
}

/// The language runtime's module (embedded in the binary, built from
/// `runtimes/`), for source code in `language`.
pub fn runtime_module(language: Language) -> Option<&'static [u8]> {
    match language {
        Language::Wasm => None,
        Language::Javascript => Some(include_bytes!("../../runtimes/dist/javascript.wasm")),
        Language::Python => Some(include_bytes!("../../runtimes/dist/python.wasm")),
    }
}

/// The language of code at `path`, from its name: `.js`, `.mjs`, `.cjs`, or
/// a folder with a `package.json` or an `index.js`/`index.mjs`, is
/// JavaScript; `.py`, or a folder with a `lambda_function.py` (or, failing
/// that, any `.py` file at its top), is Python; anything else a module.
pub fn infer_language(path: &Path) -> Language {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if matches!(ext.as_str(), "js" | "mjs" | "cjs") {
        return Language::Javascript;
    }
    if ext == "py" {
        return Language::Python;
    }
    if !path.is_dir() {
        return Language::Wasm;
    }
    if ["package.json", "index.js", "index.mjs", "index.cjs"]
        .iter()
        .any(|f| path.join(f).is_file())
    {
        return Language::Javascript;
    }
    if path.join("lambda_function.py").is_file() {
        return Language::Python;
    }
    // The top of the folder only, and a bounded look at it.
    let has_python = std::fs::read_dir(path).is_ok_and(|entries| {
        entries
            .take(1000)
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "py") && e.path().is_file())
    });
    if has_python {
        Language::Python
    } else {
        Language::Wasm
    }
}

/// Lambda's handler for source code at `path`: `index.handler` for a
/// folder; for one file, its own name (`app.handler` for `app.js`).
pub fn default_source_handler(path: &Path, language: Language) -> String {
    let default = language.default_handler();
    if path.is_dir() {
        return default.to_owned();
    }
    let export = default.split_once('.').map_or("handler", |(_, e)| e);
    match path.file_stem() {
        Some(stem) => format!("{}.{export}", stem.to_string_lossy()),
        None => default.to_owned(),
    }
}

/// Most files a source folder may hold (a `node_modules` included).
pub const MAX_SOURCE_FILES: usize = 20_000;

/// Reads code for a function in `language`: a module for `wasm`; else
/// source code, a folder (mounted as it is, so edits are seen at the next
/// cold start), a zip (unpacked) or one file (copied into a folder of its
/// own), run by the language's runtime module.
pub fn load_for(
    language: Language,
    path: &Path,
    bundles_dir: &Path,
) -> Result<CodeBundle, CodeError> {
    let Some(module) = runtime_module(language) else {
        return load_code(path, bundles_dir);
    };
    let io = |source| CodeError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let (task_root, package) = if meta.is_dir() {
        let package = check_source_folder(path)?;
        (path.canonicalize().map_err(io)?, package)
    } else {
        if meta.len() > MAX_ZIPPED_BYTES.max(MAX_UNZIPPED_BYTES) {
            return Err(CodeError::TooLarge {
                what: "Unzipped",
                limit: MAX_UNZIPPED_BYTES,
                path: path.to_owned(),
            });
        }
        let mut file = fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_UNZIPPED_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.starts_with(b"PK\x03\x04") || path.extension().is_some_and(|e| e == "zip") {
            if bytes.len() as u64 > MAX_ZIPPED_BYTES {
                return Err(CodeError::TooLarge {
                    what: "Zipped",
                    limit: MAX_ZIPPED_BYTES,
                    path: path.to_owned(),
                });
            }
            (
                unzip(path, &bytes, bundles_dir)?,
                (sha256(&bytes), bytes.len() as u64),
            )
        } else {
            // One source file: a folder of its own holding it.
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "index.js".to_owned());
            let dir = bundles_dir.join(format!("src-{}", hex(&sha256(&bytes))));
            let target = dir.join(&name);
            if !target.is_file() {
                let io_dir = |source| CodeError::Io {
                    path: dir.clone(),
                    source,
                };
                fs::create_dir_all(&dir).map_err(io_dir)?;
                let partial = dir.join(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
                fs::write(&partial, &bytes).map_err(io_dir)?;
                fs::rename(&partial, &target).map_err(io_dir)?;
            }
            (dir, (sha256(&bytes), bytes.len() as u64))
        }
    };
    Ok(CodeBundle {
        sha256: sha256(module),
        wasm: module.to_vec(),
        task_root: Some(task_root),
        origin: path.to_owned(),
        package: Some(package),
    })
}

/// A source folder within Lambda's unzipped limit (250 MB) and
/// [`MAX_SOURCE_FILES`] entries (links are not followed); its SHA-256 (of
/// each file's path and content, in path order) and size.
fn check_source_folder(path: &Path) -> Result<([u8; 32], u64), CodeError> {
    let mut total = 0u64;
    let mut count = 0usize;
    let mut files = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|source| CodeError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            count += 1;
            if count > MAX_SOURCE_FILES {
                return Err(CodeError::Invalid(format!(
                    "{} holds more than {MAX_SOURCE_FILES} files",
                    path.display()
                )));
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
                if total > MAX_UNZIPPED_BYTES {
                    return Err(CodeError::TooLarge {
                        what: "Unzipped",
                        limit: MAX_UNZIPPED_BYTES,
                        path: path.to_owned(),
                    });
                }
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        h.update(
            f.strip_prefix(path)
                .unwrap_or(f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        if let Ok(bytes) = fs::read(f) {
            h.update(&bytes);
        }
    }
    Ok((h.finalize().into(), total))
}

fn load_zip(path: &Path, bytes: &[u8], bundles_dir: &Path) -> Result<CodeBundle, CodeError> {
    let zip_err = |e: zip::result::ZipError| CodeError::Zip {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_err)?;
    let mut modules = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(zip_err)?;
        if file.is_file() && file.name().ends_with(".wasm") {
            modules.push(file.name().to_owned());
        }
    }
    let chosen = match modules.as_slice() {
        [] => {
            return Err(CodeError::ZipWithoutModule {
                path: path.to_owned(),
            });
        }
        [only] => only.clone(),
        many => many
            .iter()
            .find(|m| *m == "bootstrap.wasm" || *m == "function.wasm")
            .cloned()
            .ok_or_else(|| CodeError::ZipAmbiguous {
                path: path.to_owned(),
                modules: many.to_vec(),
            })?,
    };
    let dir = unzip(path, bytes, bundles_dir)?;
    let module_path = dir.join(&chosen);
    let raw = fs::read(&module_path).map_err(|source| CodeError::Io {
        path: module_path.clone(),
        source,
    })?;
    let wasm = module_bytes(&module_path, raw)?;
    Ok(CodeBundle {
        sha256: sha256(&wasm),
        wasm,
        task_root: Some(dir),
        origin: path.to_owned(),
        package: None,
    })
}

/// Unpacks a zip below `bundles_dir` (once per content), within Lambda's
/// unzipped limit counted while inflating; the folder.
fn unzip(path: &Path, bytes: &[u8], bundles_dir: &Path) -> Result<PathBuf, CodeError> {
    let zip_err = |e: zip::result::ZipError| CodeError::Zip {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_err)?;
    let unzipped_too_large = || CodeError::TooLarge {
        what: "Unzipped",
        limit: MAX_UNZIPPED_BYTES,
        path: path.to_owned(),
    };
    let dir = bundles_dir.join(hex(&sha256(bytes)));
    if !dir.join(".complete").exists() {
        let partial = bundles_dir.join(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
        let io_err = |source| CodeError::Io {
            path: partial.clone(),
            source,
        };
        fs::create_dir_all(&partial).map_err(io_err)?;
        let cleanup = |e: CodeError| {
            let _ = fs::remove_dir_all(&partial);
            e
        };
        // What the entries declare is not trusted: every byte inflated counts.
        let mut left = MAX_UNZIPPED_BYTES;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(zip_err).map_err(cleanup)?;
            let Some(rel) = file.enclosed_name() else {
                continue;
            };
            let target = partial.join(rel);
            if file.is_dir() {
                fs::create_dir_all(&target)
                    .map_err(io_err)
                    .map_err(cleanup)?;
                continue;
            }
            if file.size() > left {
                return Err(cleanup(unzipped_too_large()));
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(io_err)
                    .map_err(cleanup)?;
            }
            let mut out = fs::File::create(&target).map_err(io_err).map_err(cleanup)?;
            let written = std::io::copy(&mut (&mut file).take(left + 1), &mut out)
                .map_err(io_err)
                .map_err(cleanup)?;
            if written > left {
                return Err(cleanup(unzipped_too_large()));
            }
            left -= written;
        }
        fs::write(partial.join(".complete"), b"")
            .map_err(io_err)
            .map_err(cleanup)?;
        if fs::rename(&partial, &dir).is_err() {
            // Another process unpacked the same bundle first.
            let _ = fs::remove_dir_all(&partial);
        }
    }
    Ok(dir)
}

/// Names of the functions a module exports (read from its export section,
/// without compiling). Empty for anything that is not a valid module header.
pub fn exported_functions(wasm: &[u8]) -> Vec<String> {
    fn leb(bytes: &[u8], pos: &mut usize) -> Option<u64> {
        let mut result = 0u64;
        let mut shift = 0;
        loop {
            let b = *bytes.get(*pos)?;
            *pos += 1;
            result |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(result);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }
    fn parse(wasm: &[u8]) -> Option<Vec<String>> {
        if !wasm.starts_with(b"\0asm") {
            return None;
        }
        let mut pos = 8;
        while pos < wasm.len() {
            let id = wasm[pos];
            pos += 1;
            let size = usize::try_from(leb(wasm, &mut pos)?).ok()?;
            let end = pos.checked_add(size)?;
            if id == 7 {
                let mut p = pos;
                let count = leb(wasm, &mut p)?;
                let mut names = Vec::new();
                for _ in 0..count {
                    let len = usize::try_from(leb(wasm, &mut p)?).ok()?;
                    let name = std::str::from_utf8(wasm.get(p..p.checked_add(len)?)?).ok()?;
                    p += len;
                    let kind = *wasm.get(p)?;
                    p += 1;
                    leb(wasm, &mut p)?;
                    if kind == 0 {
                        names.push(name.to_owned());
                    }
                }
                return Some(names);
            }
            pos = end;
        }
        Some(Vec::new())
    }
    parse(wasm).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_read_without_compiling() {
        let wasm = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "handler")) (func (export "_initialize")))"#).unwrap();
        assert_eq!(exported_functions(&wasm), ["handler", "_initialize"]);
        assert!(exported_functions(b"junk").is_empty());
    }
}
