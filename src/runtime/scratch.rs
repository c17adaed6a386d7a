//! Scratch folders: each runtime makes its own under the system's temporary
//! folder (or the one it is given), named `lambdesk-<pid>-<random>` with
//! owner-only permissions by `tempfile`, so another user can neither predict
//! it nor hand it over by creating it first. Folders left by a process that
//! died (a crash, `kill -9`) are removed when the next runtime starts.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Creates a new scratch folder in `parent`, after removing the ones dead
/// processes of this user left there.
pub(crate) fn create(parent: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(parent)
        .with_context(|| format!("creating the scratch parent folder {}", parent.display()))?;
    let prefix = format!("lambdesk-{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder
        .tempdir_in(parent)
        .with_context(|| format!("creating a scratch folder in {}", parent.display()))?
        .keep();
    remove_leftovers(parent, &dir);
    Ok(dir)
}

/// Removes `lambdesk-<pid>-…` folders in `parent` owned by the owner of
/// `ours` whose process is gone.
fn remove_leftovers(parent: &Path, ours: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == ours {
            continue;
        }
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("lambdesk-"))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if same_owner(ours, &path) && !alive(pid) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(unix)]
fn same_owner(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // symlink_metadata: a link planted in the folder is never followed.
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => b.is_dir() && a.uid() == b.uid(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_owner(_a: &Path, _b: &Path) -> bool {
    false
}

/// Whether process `pid` runs (Linux: `/proc/<pid>`; elsewhere assume so,
/// and leave the folder).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}
