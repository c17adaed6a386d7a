//! One JSON file per item in a folder, for what must survive a kill: the
//! asynchronous queue's events, local queues' messages and streams' records.
//! Items are written atomically (a temporary file, synced, then renamed), so a
//! kill leaves either the old file or the new one; reading back skips (and
//! cleans up) what a cut-short write left behind.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::atomic::write_atomic;

/// A folder of `<key>.json` files.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// The store in `dir` (created on the first write).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Writes `item` under `key`, replacing what was there.
    pub fn put<T: Serialize>(&self, key: &str, item: &T) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = serde_json::to_vec(item).map_err(std::io::Error::other)?;
        write_atomic(&self.path(key), &bytes)
    }

    /// Removes the item under `key`, if there is one.
    pub fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
    }

    /// Every item that reads back as a `T`; damaged files stay where they are.
    pub fn load<T: DeserializeOwned>(&self) -> Vec<T> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            // A write cut short by a kill leaves a temporary file; the item
            // file it was replacing is intact.
            if entry.file_name().to_string_lossy().contains(".tmp-") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().is_some_and(|e| e == "json")
                && let Ok(bytes) = std::fs::read(&path)
                && let Ok(item) = serde_json::from_slice(&bytes)
            {
                items.push(item);
            }
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_leftovers_are_skipped() {
        let dir =
            std::env::temp_dir().join(format!("lambdesk-store-{}", uuid::Uuid::new_v4().simple()));
        let store = FileStore::new(dir.clone());
        assert!(store.load::<u32>().is_empty(), "no folder yet");
        store.put("a", &1u32).unwrap();
        store.put("b", &2u32).unwrap();
        store.put("a", &3u32).unwrap();
        std::fs::write(dir.join("c.json.tmp-123"), "3").unwrap();
        std::fs::write(dir.join("d.json"), "not a number").unwrap();
        let mut items: Vec<u32> = store.load();
        items.sort_unstable();
        assert_eq!(items, [2, 3]);
        assert!(!dir.join("c.json.tmp-123").exists(), "leftover removed");
        assert!(dir.join("d.json").exists(), "a damaged file is kept");
        store.remove("a");
        assert_eq!(store.load::<u32>(), [2]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
