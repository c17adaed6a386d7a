//! The folder trigger: a local folder watched as an S3 bucket. A file created
//! or overwritten delivers `ObjectCreated:Put`, a file deleted delivers
//! `ObjectRemoved:Delete`, with the bucket name, the URL-encoded key, size and
//! eTag, filtered by key prefix and suffix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::bail;

use crate::model::TriggerSource;
use md5::Digest;
use serde_json::{Value, json};

/// One watched folder.
#[derive(Clone, Debug)]
pub struct FolderWatch {
    /// The folder.
    pub dir: PathBuf,
    /// The bucket name (the folder's name).
    pub bucket: String,
    /// The function to invoke.
    pub function: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// Only keys ending with this.
    pub suffix: String,
    seen: BTreeMap<String, (u64, SystemTime)>,
}

impl FolderWatch {
    /// Parses `DIR=FUNCTION[?prefix=P&suffix=S]` and takes the folder's
    /// current content as the starting point (no events for what is there).
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (function, source) =
            TriggerSource::parse_spec("bucket", spec).map_err(anyhow::Error::msg)?;
        Self::new(&function, &source)
    }

    /// Starts watching a folder trigger's folder, taking its current content
    /// as the starting point.
    pub fn new(function: &str, source: &TriggerSource) -> anyhow::Result<Self> {
        let TriggerSource::Folder {
            dir,
            prefix,
            suffix,
        } = source
        else {
            bail!("not a folder trigger");
        };
        if !dir.is_dir() {
            bail!("{} is not a folder", dir.display());
        }
        let bucket = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "bucket".into());
        Ok(Self {
            bucket,
            dir: dir.clone(),
            function: function.to_owned(),
            prefix: prefix.clone(),
            suffix: suffix.clone(),
            seen: snapshot(dir),
        })
    }

    /// Compares the folder with the last scan (files over 5 GB are reported, not read); returns the S3 events for what changed.
    pub fn scan(&mut self) -> Vec<Value> {
        let now = snapshot(&self.dir);
        let mut events = Vec::new();
        for (key, meta) in &now {
            if self.seen.get(key) != Some(meta) && self.wanted(key) {
                if meta.0 > MAX_OBJECT_BYTES {
                    eprintln!(
                        "lambdesk: {} is {} bytes, over S3's single PUT limit of 5 GB; no event is sent for it",
                        self.dir.join(key).display(),
                        meta.0
                    );
                    continue;
                }
                let etag = streamed_md5(&self.dir.join(key)).unwrap_or_default();
                events.push(s3_event(
                    &self.bucket,
                    key,
                    "ObjectCreated:Put",
                    Some((meta.0, &etag)),
                ));
            }
        }
        for key in self.seen.keys() {
            if !now.contains_key(key) && self.wanted(key) {
                events.push(s3_event(&self.bucket, key, "ObjectRemoved:Delete", None));
            }
        }
        self.seen = now;
        events
    }

    fn wanted(&self, key: &str) -> bool {
        key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }
}

/// Files below `dir` by key (`/`-separated relative path): size and mtime.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && let Ok(rel) = path.strip_prefix(dir)
            {
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(
                    key,
                    (
                        meta.len(),
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    ),
                );
            }
        }
    }
    out
}

/// Encodes a key as S3 does in event notifications (form encoding: space is `+`).
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// One S3 event notification record, wrapped in `Records`.
pub fn s3_event(bucket: &str, key: &str, event_name: &str, object: Option<(u64, &str)>) -> Value {
    let now = chrono::Utc::now();
    let mut obj = json!({
        "key": encode_key(key),
        "sequencer": format!("{:016X}", now.timestamp_nanos_opt().unwrap_or_default()),
    });
    if let Some((size, etag)) = object {
        obj["size"] = json!(size);
        obj["eTag"] = json!(etag);
    }
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": crate::model::REGION,
            "eventTime": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "eventName": event_name,
            "userIdentity": { "principalId": "lambdesk" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": { "x-amz-request-id": "lambdesk", "x-amz-id-2": "lambdesk" },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "lambdesk-folder",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": { "principalId": "lambdesk" },
                    "arn": format!("arn:aws:s3:::{bucket}"),
                },
                "object": obj,
            },
        }],
    })
}

/// S3's limit on an object uploaded with one PUT: 5 GB.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The MD5 of a file (S3's eTag of a single PUT), read in 64 KB pieces.
fn streamed_md5(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = md5::Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5::Digest::update(&mut hasher, &buf[..n]);
    }
    Ok(crate::runtime::code::hex(&md5::Digest::finalize(hasher)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_like_s3() {
        assert_eq!(encode_key("photos/a b+c.jpg"), "photos/a+b%2Bc.jpg");
        assert_eq!(encode_key("ü.txt"), "%C3%BC.txt");
    }

    #[test]
    fn scan_reports_puts_and_deletes_with_filters() {
        let dir =
            std::env::temp_dir().join(format!("lambdesk-bucket-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("in")).unwrap();
        std::fs::write(dir.join("old.txt"), "there before").unwrap();
        let mut w =
            FolderWatch::parse(&format!("{}=f?prefix=in/&suffix=.txt", dir.display())).unwrap();
        assert!(w.scan().is_empty(), "existing files are not events");
        std::fs::write(dir.join("in/a b.txt"), "hello").unwrap();
        std::fs::write(dir.join("in/skip.jpg"), "x").unwrap();
        let events = w.scan();
        assert_eq!(events.len(), 1);
        let r = &events[0]["Records"][0];
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["s3"]["object"]["key"], "in/a+b.txt");
        assert_eq!(r["s3"]["object"]["size"], 5);
        assert_eq!(
            r["s3"]["object"]["eTag"],
            "5d41402abc4b2a76b9719d911017c592"
        );
        std::fs::remove_file(dir.join("in/a b.txt")).unwrap();
        let events = w.scan();
        assert_eq!(events[0]["Records"][0]["eventName"], "ObjectRemoved:Delete");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
