//! The Code tab's files: a JavaScript or Python function's folder, loaded
//! off the UI thread within Lambda's 3 MB inline-editing limit, edited in
//! memory (text, new, rename, delete) and deployed as the Lambda console
//! deploys: every change written atomically on a thread of its own, then the
//! function deployed again, so the next start is cold. The last error of the
//! function that points into its code is located here for the editor to mark.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Controller, DeployState, Msg};
use crate::runtime::{FunctionError, LogKind, LogLine};

/// Lambda's limit for editing a function's code in the console: bigger
/// packages run, but are edited outside.
pub const INLINE_LIMIT: u64 = 3 * 1024 * 1024;
/// Most files the editor lists.
pub const MAX_FILES: usize = 1_000;
/// Folders never part of what the editor shows.
const SKIPPED_DIRS: [&str; 2] = [".git", "__pycache__"];

/// A source function's files as the Code tab edits them.
#[derive(Clone, Debug)]
pub struct CodeBuffer {
    /// The folder the files' paths are relative to.
    pub root: PathBuf,
    /// The function's code is this one file (no new files beside it).
    pub single_file: bool,
    /// Loading, ready, saving, or why it cannot be edited here.
    pub state: BufferState,
    /// The files, sorted by path.
    pub files: Vec<CodeFile>,
    /// Files on disk that Deploy removes (deleted in the editor).
    pub removed: Vec<String>,
    /// The file shown.
    pub open: usize,
    /// The files changed on disk while the editor had changes of its own.
    pub disk_changed: bool,
    /// Where the function's last error points in its code.
    pub mark: Option<CodeMark>,
    /// Invoke once the deploy in progress is done: (times, at once).
    pub invoke_after_deploy: Option<(usize, usize)>,
}

/// Whether the files can be edited now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufferState {
    /// Being read.
    Loading,
    /// Editable.
    Ready,
    /// Being written and deployed.
    Saving,
    /// Why the code is not edited in the app (too large, a zip…).
    Outside(String),
    /// Reading failed.
    Failed(String),
}

/// One file of the function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFile {
    /// Path under the root, `/`-separated.
    pub path: String,
    /// Its text (empty for a binary file).
    pub text: String,
    /// Its path on disk when loaded (`None`: new in the editor).
    pub disk_path: Option<String>,
    /// Edited since loaded or deployed.
    pub edited: bool,
    /// Not UTF-8 text: listed, never shown or written.
    pub binary: bool,
}

impl CodeFile {
    /// Differs from what is on disk.
    pub fn unsaved(&self) -> bool {
        self.edited || self.disk_path.as_deref() != Some(self.path.as_str())
    }
}

impl CodeBuffer {
    fn new(root: PathBuf, single_file: bool) -> Self {
        Self {
            root,
            single_file,
            state: BufferState::Loading,
            files: Vec::new(),
            removed: Vec::new(),
            open: 0,
            disk_changed: false,
            mark: None,
            invoke_after_deploy: None,
        }
    }

    /// Whether the editor holds changes Deploy would write.
    pub fn unsaved(&self) -> bool {
        !self.removed.is_empty() || self.files.iter().any(CodeFile::unsaved)
    }

    /// The index of the file at `path`.
    pub fn index_of(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.path == path)
    }

    fn sort(&mut self) {
        let open = self.files.get(self.open).map(|f| f.path.clone());
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(i) = open.and_then(|p| self.index_of(&p)) {
            self.open = i;
        }
    }
}

/// Where an error points in the function's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeMark {
    /// The file, relative to the code's root.
    pub file: String,
    /// 1-based line, when the error says one.
    pub line: Option<usize>,
    /// `errorType: errorMessage`.
    pub text: String,
}

/// What the loader read.
#[derive(Debug)]
pub(super) struct Loaded {
    root: PathBuf,
    single_file: bool,
    result: Result<Vec<CodeFile>, BufferState>,
}

/// Checks a path typed for a new or renamed file: relative, `/`-separated,
/// no `.`/`..`/empty parts, no control characters, at most 255 bytes a part.
pub fn check_path(path: &str) -> Result<String, String> {
    let path = path.trim();
    if path.is_empty() {
        return Err("a file needs a name".into());
    }
    if path.len() > 1024 {
        return Err("the path is longer than 1,024 bytes".into());
    }
    if path.starts_with('/') || path.contains('\\') {
        return Err(
            "the path must be relative to the function's folder, with / between folders".into(),
        );
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "'{path}': empty, '.' and '..' parts are not allowed"
            ));
        }
        if part.len() > 255 {
            return Err("a name is longer than 255 bytes".into());
        }
        if part.chars().any(char::is_control) {
            return Err("a name cannot hold control characters".into());
        }
    }
    Ok(path.to_owned())
}

/// Reads a function's code for the editor (on the loader thread).
pub(super) fn load(code: &Path, name: &str) -> Loaded {
    let meta = std::fs::metadata(code);
    let is_dir = meta.as_ref().is_ok_and(std::fs::Metadata::is_dir);
    let (root, single_file) = if is_dir {
        (code.to_owned(), false)
    } else {
        (
            code.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            true,
        )
    };
    let result = match meta {
        Err(e) => Err(BufferState::Failed(format!("cannot read {}: {e}", code.display()))),
        Ok(_) if !is_dir && code.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) => {
            Err(BufferState::Outside(
                "The code is a .zip archive: edit its files outside and replace the archive; the change is picked up.".into(),
            ))
        }
        Ok(_) => read_files(code, &root, is_dir, name),
    };
    Loaded {
        root,
        single_file,
        result,
    }
}

fn read_files(
    code: &Path,
    root: &Path,
    is_dir: bool,
    name: &str,
) -> Result<Vec<CodeFile>, BufferState> {
    let failed = |e: std::io::Error, p: &Path| {
        BufferState::Failed(format!("cannot read {}: {e}", p.display()))
    };
    // Sizes first: nothing is read when the package is over the limit.
    let mut found: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut total: u64 = 0;
    if is_dir {
        let mut stack = vec![code.to_owned()];
        'walk: while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| failed(e, &dir))? {
                let entry = entry.map_err(|e| failed(e, &dir))?;
                // Links are not followed (a link to / would never end).
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_dir() {
                    if !SKIPPED_DIRS.iter().any(|s| entry.file_name() == *s) {
                        stack.push(path);
                    }
                } else if kind.is_file() {
                    let size = entry.metadata().map_err(|e| failed(e, &path))?.len();
                    total += size;
                    // A name that is not UTF-8 could not be written back
                    // under the same name: such files run, and are not listed.
                    let rel = path.strip_prefix(root).ok().and_then(|r| {
                        r.components()
                            .map(|c| c.as_os_str().to_str())
                            .collect::<Option<Vec<_>>>()
                    });
                    if let Some(rel) = rel {
                        found.push((rel.join("/"), path, size));
                    }
                }
                // Over the limit: not read further (a huge folder stays cheap).
                if total > INLINE_LIMIT {
                    break 'walk;
                }
                if found.len() > MAX_FILES {
                    return Err(BufferState::Outside(format!(
                        "The function's folder holds more than {MAX_FILES} files: edit them outside; changes are picked up."
                    )));
                }
            }
        }
    } else {
        let size = std::fs::metadata(code).map_err(|e| failed(e, code))?.len();
        let rel = code
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        found.push((rel, code.to_owned(), size));
        total = size;
    }
    if total > INLINE_LIMIT {
        // The Lambda console's words.
        return Err(BufferState::Outside(format!(
            "The deployment package of your Lambda function \"{name}\" is too large to enable inline code editing. However, you can still invoke your function. ({:.1} MB; the limit is 3 MB.)",
            total as f64 / 1_048_576.0
        )));
    }
    let mut files = Vec::with_capacity(found.len());
    for (rel, path, _) in found {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(INLINE_LIMIT + 1).read_to_end(&mut bytes))
            .map_err(|e| failed(e, &path))?;
        let (text, binary) = match String::from_utf8(bytes) {
            Ok(t) => (t, false),
            Err(_) => (String::new(), true),
        };
        files.push(CodeFile {
            disk_path: Some(rel.clone()),
            path: rel,
            text,
            edited: false,
            binary,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// What Deploy writes: (path, text) to write, paths to remove.
type Plan = (Vec<(String, String)>, Vec<String>);

fn plan(buffer: &CodeBuffer) -> Plan {
    let writes: Vec<(String, String)> = buffer
        .files
        .iter()
        .filter(|f| !f.binary && f.unsaved())
        .map(|f| (f.path.clone(), f.text.clone()))
        .collect();
    let mut removes: Vec<String> = buffer.removed.clone();
    removes.extend(
        buffer
            .files
            .iter()
            .filter(|f| f.disk_path.as_deref().is_some_and(|d| d != f.path))
            .filter_map(|f| f.disk_path.clone()),
    );
    // A path written again (deleted, then created anew) stays.
    removes.retain(|r| !buffer.files.iter().any(|f| &f.path == r));
    removes.sort();
    removes.dedup();
    (writes, removes)
}

/// Writes the plan under `root`: each file atomically (a reader sees the old
/// text or the new, never half), then the removals.
fn write_plan(root: &Path, (writes, removes): &Plan) -> Result<(), String> {
    for (rel, text) in writes {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create the folder of {rel}: {e}"))?;
        }
        crate::store::write_atomic(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {rel}: {e}"))?;
    }
    for rel in removes {
        match std::fs::remove_file(root.join(rel)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {rel}: {e}")),
        }
    }
    Ok(())
}

/// Where a function error points in the code: the innermost frame in
/// `/var/task` of Node's `trace` or Python's `stackTrace`; for a module that
/// cannot be imported, the line importing it; for a missing handler, the
/// handler's file.
pub fn locate_error(err: &FunctionError, files: &[CodeFile], handler: &str) -> Option<CodeMark> {
    let text = format!("{}: {}", err.error_type, err.error_message);
    let payload: Option<serde_json::Value> = err
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_slice(p).ok());
    let frames: Vec<String> = match payload
        .as_ref()
        .and_then(|p| p.get("trace").or_else(|| p.get("stackTrace")))
    {
        Some(serde_json::Value::Array(lines)) => lines
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect(),
        _ => err.stack_trace.clone(),
    };
    let mark = |file: String, line: Option<usize>| {
        Some(CodeMark {
            file,
            line,
            text: text.clone(),
        })
    };
    let known = |f: &str| files.iter().any(|c| c.path == f);
    // Python lists the outermost frame first, Node the innermost.
    let python = frames.iter().any(|f| f.contains("File \"/var/task/"));
    let located: Vec<(String, usize)> = frames
        .iter()
        .filter_map(|f| frame_location(f))
        .filter(|(f, _)| known(f))
        .collect();
    let frame = if python {
        located.last()
    } else {
        located.first()
    };
    if let Some((file, line)) = frame {
        return mark(file.clone(), Some(*line));
    }
    let module_file = |module: &str| -> Option<String> {
        let base = module.replace('.', "/");
        [".py", ".js", ".mjs", ".cjs"]
            .iter()
            .map(|ext| format!("{base}{ext}"))
            .find(|f| known(f))
    };
    match err.error_type.as_str() {
        "Runtime.ImportModuleError" => {
            let missing = quoted_after(&err.error_message, "No module named '")
                .or_else(|| quoted_after(&err.error_message, "Cannot find module '"))?;
            for f in files {
                for (i, line) in f.text.lines().enumerate() {
                    if imports(line, &missing) {
                        return mark(f.path.clone(), Some(i + 1));
                    }
                }
            }
            // The handler's module itself is missing: nothing to mark.
            None
        }
        "Runtime.HandlerNotFound" => {
            let module = handler.rsplit_once('.').map_or(handler, |(m, _)| m);
            mark(module_file(module)?, None)
        }
        _ => None,
    }
}

/// `(file, line)` of a frame naming `/var/task/…`: Node's `at … (/var/task/f.js:3:13)`,
/// Python's `File "/var/task/f.py", line 3` (and `… Line 3` of syntax errors).
fn frame_location(frame: &str) -> Option<(String, usize)> {
    let start = frame.find("/var/task/")? + "/var/task/".len();
    let rest = &frame[start..];
    if let Some(end) = rest.find('"') {
        // Python.
        let file = &rest[..end];
        let after = rest[end + 1..].trim_start_matches(',').trim_start();
        let n = after
            .strip_prefix("line ")
            .or_else(|| after.strip_prefix("Line "))?;
        let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
        return Some((file.to_owned(), digits.parse().ok()?));
    }
    // Node: path:line:column, maybe followed by ')'.
    let rest = rest.trim_end_matches(')');
    let mut parts = rest.rsplitn(3, ':');
    let _column = parts.next()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), line))
}

fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('\'')?].to_owned())
}

/// Whether a line of code imports `module` (Python `import`/`from`, Node
/// `require(…)`/`import … from …`).
fn imports(line: &str, module: &str) -> bool {
    let t = line.trim_start();
    let word = |s: &str| {
        s.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .any(|w| w == module || w.starts_with(&format!("{module}.")))
    };
    if let Some(rest) = t
        .strip_prefix("import ")
        .or_else(|| t.strip_prefix("from "))
        && word(rest.split(" import ").next().unwrap_or(rest))
    {
        return true;
    }
    ["'", "\"", "`"].iter().any(|q| {
        t.contains(&format!("{q}{module}{q}")) && (t.contains("require") || t.contains("import"))
    })
}

impl Controller {
    /// Reads the function's files for the editor, unless they are read already.
    pub(super) fn open_code(&mut self, name: &str) {
        if self.code.contains_key(name) {
            return;
        }
        self.load_code(name);
    }

    /// Reads the function's files again (discarding the editor's changes).
    pub(super) fn load_code(&mut self, name: &str) {
        let Some(entry) = self.entry(name) else {
            return;
        };
        if !entry.config.runtime.is_source() {
            return;
        }
        let path = self.code_path(entry);
        // Read again: the file shown and the mark stay.
        self.code
            .entry(name.to_owned())
            .or_insert_with(|| CodeBuffer::new(path.clone(), false))
            .state = BufferState::Loading;
        let (tx, wake, function) = (self.tx.clone(), self.wake.clone(), name.to_owned());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-code-load".into())
            .spawn(move || {
                let loaded = load(&path, &function);
                let _ = tx.send(Msg::CodeLoaded(function, Box::new(loaded)));
                wake();
            });
        if let Err(e) = spawned {
            self.code.remove(name);
            self.error(format!("cannot start a thread: {e}"));
        }
    }

    pub(super) fn on_code_loaded(&mut self, name: &str, loaded: Loaded) {
        let Some(b) = self.code.get_mut(name) else {
            return;
        };
        let first_load = b.files.is_empty();
        b.root = loaded.root;
        b.single_file = loaded.single_file;
        b.disk_changed = false;
        match loaded.result {
            Ok(files) => {
                let open = b.files.get(b.open).map(|f| f.path.clone());
                b.files = files;
                b.removed.clear();
                b.state = BufferState::Ready;
                b.open = open.and_then(|p| b.index_of(&p)).unwrap_or(0);
                // The handler's file first, as the Lambda console opens it.
                if first_load && let Some(entry) = self.workspace.function(name) {
                    let module = entry
                        .config
                        .handler
                        .rsplit_once('.')
                        .map_or("", |(m, _)| m)
                        .to_owned();
                    if let Some(i) = b.files.iter().position(|f| {
                        f.path
                            .rsplit_once('.')
                            .is_some_and(|(stem, _)| stem == module)
                    }) {
                        b.open = i;
                    }
                }
            }
            Err(state) => {
                b.files.clear();
                b.state = state;
                return;
            }
        }
        // The last error of $LATEST is marked in files read after it.
        let last = self
            .records
            .iter()
            .rev()
            .filter(|r| r.function == name)
            .find_map(|r| {
                r.result
                    .as_ref()
                    .ok()
                    .filter(|inv| inv.version == "$LATEST")
            })
            .map(|inv| inv.error().cloned());
        if let Some(error) = last {
            self.mark_code_error(name, error.as_ref());
        }
        // Opened after a failed test: at the error's file.
        if let Some(b) = self.code.get_mut(name)
            && first_load
            && let Some(i) = b.mark.as_ref().and_then(|m| b.index_of(&m.file))
        {
            b.open = i;
        }
    }

    fn ready_buffer(&mut self, name: &str) -> Option<&mut CodeBuffer> {
        self.code
            .get_mut(name)
            .filter(|b| b.state == BufferState::Ready)
    }

    pub(super) fn edit_code(&mut self, name: &str, index: usize, text: String) {
        if let Some(f) = self.ready_buffer(name).and_then(|b| b.files.get_mut(index))
            && !f.binary
            && f.text != text
        {
            f.text = text;
            f.edited = true;
        }
    }

    pub(super) fn select_code_file(&mut self, name: &str, index: usize) {
        if let Some(b) = self.code.get_mut(name)
            && index < b.files.len()
        {
            b.open = index;
        }
    }

    pub(super) fn new_code_file(&mut self, name: &str, path: &str) {
        let checked = check_path(path);
        let Some(b) = self.ready_buffer(name) else {
            return;
        };
        let result = match checked {
            Err(e) => Err(e),
            Ok(_) if b.single_file => {
                Err("the function's code is a single file: make it a folder to add files".into())
            }
            Ok(p) if b.index_of(&p).is_some() => Err(format!("{p} exists already")),
            Ok(_) if b.files.len() >= MAX_FILES => Err(format!("at most {MAX_FILES} files")),
            Ok(p) => {
                b.files.push(CodeFile {
                    path: p.clone(),
                    text: String::new(),
                    disk_path: None,
                    edited: true,
                    binary: false,
                });
                b.open = b.files.len() - 1;
                b.sort();
                Ok(())
            }
        };
        if let Err(e) = result {
            self.error(format!("{name}: {e}"));
        }
    }

    pub(super) fn rename_code_file(&mut self, name: &str, index: usize, path: &str) {
        let checked = check_path(path);
        let Some(b) = self.ready_buffer(name) else {
            return;
        };
        let result = match (checked, b.files.get(index)) {
            (_, None) => Ok(()),
            (Err(e), _) => Err(e),
            (Ok(_), Some(_)) if b.single_file => {
                Err("the function's code is a single file: rename it outside".into())
            }
            (Ok(_), Some(f)) if f.binary => {
                Err(format!("{} is not text: rename it outside", f.path))
            }
            (Ok(p), Some(f)) if p == f.path => Ok(()),
            (Ok(p), Some(_)) if b.index_of(&p).is_some() => Err(format!("{p} exists already")),
            (Ok(p), Some(_)) => {
                b.files[index].path = p;
                b.open = index;
                b.sort();
                Ok(())
            }
        };
        if let Err(e) = result {
            self.error(format!("{name}: {e}"));
        }
    }

    pub(super) fn delete_code_file(&mut self, name: &str, index: usize) {
        let Some(b) = self.ready_buffer(name) else {
            return;
        };
        if b.single_file || index >= b.files.len() {
            return;
        }
        let f = b.files.remove(index);
        if let Some(d) = f.disk_path {
            b.removed.push(d);
        }
        b.open = b.open.min(b.files.len().saturating_sub(1));
    }

    /// Deploy: writes the changes, then deploys; `invoke` runs once the
    /// deploy is done (Test).
    pub(super) fn deploy_code(&mut self, name: &str, invoke: Option<(usize, usize)>) {
        let Some(b) = self.ready_buffer(name) else {
            if let Some((times, parallel)) = invoke {
                self.invoke(name, times, parallel);
            }
            return;
        };
        let plan = plan(b);
        let root = b.root.clone();
        b.state = BufferState::Saving;
        b.invoke_after_deploy = invoke;
        // The watcher leaves it alone meanwhile: this deploy follows.
        if let Some(s) = self.status.get_mut(name) {
            s.deploy = DeployState::Deploying;
        }
        let (tx, wake, function) = (self.tx.clone(), self.wake.clone(), name.to_owned());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-code-save".into())
            .spawn(move || {
                let result = write_plan(&root, &plan);
                let _ = tx.send(Msg::CodeSaved(function, result));
                wake();
            });
        if let Err(e) = spawned {
            if let Some(b) = self.code.get_mut(name) {
                b.state = BufferState::Ready;
            }
            self.error(format!("cannot start a thread: {e}"));
            self.deploy(name);
        }
    }

    pub(super) fn on_code_saved(&mut self, name: &str, result: Result<(), String>) {
        let Some(b) = self.code.get_mut(name) else {
            return;
        };
        b.state = BufferState::Ready;
        match result {
            Ok(()) => {
                for f in &mut b.files {
                    if !f.binary {
                        f.edited = false;
                        f.disk_path = Some(f.path.clone());
                    }
                }
                b.removed.clear();
                b.disk_changed = false;
                b.mark = None;
                self.logs.push(LogLine {
                    time: chrono::Utc::now(),
                    function: Arc::from(name),
                    log_stream: Arc::from(""),
                    request_id: Arc::from(""),
                    kind: LogKind::Notice,
                    text: "Code deployed from the editor; the next start is cold".to_owned(),
                });
            }
            Err(e) => {
                b.invoke_after_deploy = None;
                self.error(format!("{name}: not deployed: {e}"));
            }
        }
        // Deployed in any case: a half-written change is what is on disk now.
        self.runtime.drop_environments(name);
        self.deploy(name);
    }

    /// After a deploy: the invocation Test asked for.
    pub(super) fn after_deploy(&mut self, name: &str) {
        let Some((times, parallel)) = self
            .code
            .get_mut(name)
            .and_then(|b| b.invoke_after_deploy.take())
        else {
            return;
        };
        match self.status.get(name).map(|s| &s.deploy) {
            Some(DeployState::Ready(_)) => self.invoke(name, times, parallel),
            Some(DeployState::Failed(e)) => {
                let e = e.clone();
                self.error(format!(
                    "{name}: not invoked, the code does not deploy: {e}"
                ));
            }
            _ => {}
        }
    }

    /// The files changed on disk: read again, or (with changes of the
    /// editor's own) say so.
    pub(super) fn code_changed_on_disk(&mut self, name: &str) {
        let Some(b) = self.code.get_mut(name) else {
            return;
        };
        match b.state {
            BufferState::Saving | BufferState::Loading => {}
            _ if b.unsaved() => b.disk_changed = true,
            _ => self.load_code(name),
        }
    }

    /// An invocation of `$LATEST` ended: its error's place in the code is
    /// marked (a success clears the mark).
    pub(super) fn mark_code_error(&mut self, name: &str, error: Option<&FunctionError>) {
        let handler = self
            .entry(name)
            .map(|e| e.config.handler.clone())
            .unwrap_or_default();
        let Some(b) = self.code.get_mut(name) else {
            return;
        };
        b.mark = error.and_then(|e| locate_error(e, &b.files, &handler));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> CodeFile {
        CodeFile {
            path: path.into(),
            text: text.into(),
            disk_path: Some(path.into()),
            edited: false,
            binary: false,
        }
    }

    fn error(payload: &str) -> FunctionError {
        let v: serde_json::Value = serde_json::from_str(payload).unwrap();
        let mut e = FunctionError::unhandled(
            v["errorType"].as_str().unwrap(),
            v["errorMessage"].as_str().unwrap(),
        );
        e.payload = Some(payload.as_bytes().into());
        e
    }

    #[test]
    fn paths_are_relative_and_plain() {
        assert_eq!(check_path(" lib/util.js ").unwrap(), "lib/util.js");
        for bad in [
            "",
            "/etc/passwd",
            "../x.py",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\u{7}",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&"x".repeat(256)).is_err());
    }

    #[test]
    fn errors_point_at_their_file_and_line() {
        let files = [
            file(
                "index.js",
                "const lib = require('./lib');\nconst nope = require('./nope');\n",
            ),
            file("lib.js", "x"),
            file("lambda_function.py", "import json\nimport requests_x\n"),
            file("helper.py", "def f():\n    raise ValueError('bad')\n"),
        ];
        let at = |e: &FunctionError, h: &str| locate_error(e, &files, h).map(|m| (m.file, m.line));
        // Node: the innermost frame in /var/task.
        let js = error(
            r#"{"errorType":"TypeError","errorMessage":"boom","trace":["TypeError: boom","    at <main> (/var/task/lib.js:1:89)","    at <main> (/var/task/index.js:2:34)","    at invoke (/var/runtime/index.mjs:584:24)"]}"#,
        );
        assert_eq!(at(&js, "index.handler"), Some(("lib.js".into(), Some(1))));
        let syntax = error(
            r#"{"errorType":"Runtime.UserCodeSyntaxError","errorMessage":"SyntaxError: unexpected token","trace":["Runtime.UserCodeSyntaxError: SyntaxError: unexpected token","    at /var/task/index.js:3:13"]}"#,
        );
        assert_eq!(
            at(&syntax, "index.handler"),
            Some(("index.js".into(), Some(3)))
        );
        // Python: the last frame in /var/task; syntax errors' own frame form.
        let py = error(
            r#"{"errorMessage": "bad", "errorType": "ValueError", "stackTrace": ["  File \"/var/task/lambda_function.py\", line 3, in lambda_handler\n    return helper.f()\n", "  File \"/var/task/helper.py\", line 2, in f\n    raise ValueError(\"bad\")\n"]}"#,
        );
        assert_eq!(
            at(&py, "lambda_function.lambda_handler"),
            Some(("helper.py".into(), Some(2)))
        );
        let py_syntax = error(
            r#"{"errorMessage": "Syntax error in module 'lambda_function': '(' was never closed (lambda_function.py, line 4)", "errorType": "Runtime.UserCodeSyntaxError", "stackTrace": ["  File \"/var/task/lambda_function.py\" Line 4\n    return json.dumps(e\n"]}"#,
        );
        assert_eq!(
            at(&py_syntax, "lambda_function.lambda_handler"),
            Some(("lambda_function.py".into(), Some(4)))
        );
        // Imports: the line that imports what is missing.
        let import = error(
            r#"{"errorMessage": "Unable to import module 'lambda_function': No module named 'requests_x'", "errorType": "Runtime.ImportModuleError", "stackTrace": []}"#,
        );
        assert_eq!(
            at(&import, "lambda_function.lambda_handler"),
            Some(("lambda_function.py".into(), Some(2)))
        );
        let require = error(
            r#"{"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find module './nope'\nRequire stack:\n- /var/task/index.js","trace":[]}"#,
        );
        assert_eq!(
            at(&require, "index.handler"),
            Some(("index.js".into(), Some(2)))
        );
        // A missing handler: its file.
        let missing = error(
            r#"{"errorType":"Runtime.HandlerNotFound","errorMessage":"index.handler is undefined or not exported","trace":[]}"#,
        );
        assert_eq!(
            at(&missing, "index.handler"),
            Some(("index.js".into(), None))
        );
        // Nothing in the code: no mark (a frame in a file the editor lacks, a timeout).
        let outside = error(
            r#"{"errorType":"Error","errorMessage":"x","trace":["Error: x","    at f (/var/task/gone.js:1:1)"]}"#,
        );
        assert_eq!(at(&outside, "index.handler"), None);
        let timeout = error(
            r#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}"#,
        );
        assert_eq!(at(&timeout, "index.handler"), None);
    }

    #[test]
    fn deploy_writes_changes_and_removes_what_was_deleted_or_renamed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "a").unwrap();
        std::fs::write(dir.path().join("b.py"), "b").unwrap();
        std::fs::write(dir.path().join("c.py"), "c").unwrap();
        let loaded = load(dir.path(), "f");
        let mut b = CodeBuffer::new(loaded.root.clone(), loaded.single_file);
        b.files = loaded.result.unwrap();
        assert_eq!(
            b.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["a.py", "b.py", "c.py"]
        );
        assert!(!b.unsaved());
        // Edit a, rename b to sub/b2, delete c, then a new c.
        b.files[0].text = "A".into();
        b.files[0].edited = true;
        b.files[1].path = "sub/b2.py".into();
        let c = b.files.remove(2);
        b.removed.push(c.disk_path.unwrap());
        b.files.push(CodeFile {
            path: "c.py".into(),
            text: "new c".into(),
            disk_path: None,
            edited: true,
            binary: false,
        });
        assert!(b.unsaved());
        write_plan(&b.root, &plan(&b)).unwrap();
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).ok();
        assert_eq!(read("a.py").as_deref(), Some("A"));
        assert_eq!(read("b.py"), None);
        assert_eq!(read("sub/b2.py").as_deref(), Some("b"));
        assert_eq!(read("c.py").as_deref(), Some("new c"));
    }

    #[test]
    fn packages_over_three_megabytes_are_edited_outside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.js"), "x").unwrap();
        std::fs::write(dir.path().join("big.bin"), vec![0u8; INLINE_LIMIT as usize]).unwrap();
        match load(dir.path(), "big").result {
            Err(BufferState::Outside(why)) => assert!(
                why.starts_with("The deployment package of your Lambda function \"big\" is too large to enable inline code editing."),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // A binary file under the limit is listed, not shown.
        std::fs::write(dir.path().join("big.bin"), [0xff, 0xfe, 0]).unwrap();
        let files = load(dir.path(), "small").result.unwrap();
        assert!(files.iter().any(|f| f.path == "big.bin" && f.binary));
        // Hostile folders: a link to the folder itself is not followed, a
        // name that is not UTF-8 is not listed (it could not be written back).
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
            std::fs::write(
                dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xff.js")),
                "x",
            )
            .unwrap();
            let files = load(dir.path(), "hostile").result.unwrap();
            let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(names, ["big.bin", "index.js"]);
        }
        // A zip is edited outside; a missing folder is an error.
        std::fs::write(dir.path().join("f.zip"), b"PK").unwrap();
        assert!(matches!(
            load(&dir.path().join("f.zip"), "z").result,
            Err(BufferState::Outside(_))
        ));
        assert!(matches!(
            load(&dir.path().join("gone"), "g").result,
            Err(BufferState::Failed(_))
        ));
    }
}
