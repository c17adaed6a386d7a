//! `s3-object-info`: a command module that answers with the bucket name and
//! object key (URL-decoded, as S3 sends it encoded) of `Records[0]` of an S3 event.

use lambdesk_guest::{Error, Value, json, run};

fn main() {
    run(|event, _ctx| {
        let record = event
            .pointer("/Records/0/s3")
            .ok_or_else(|| Error::new("InvalidEvent", "not an S3 event: no Records[0].s3"))?;
        let bucket = record.pointer("/bucket/name").and_then(Value::as_str).unwrap_or_default();
        let raw_key = record.pointer("/object/key").and_then(Value::as_str).unwrap_or_default();
        let size = record.pointer("/object/size").cloned().unwrap_or(Value::Null);
        eprintln!("object s3://{bucket}/{raw_key}");
        Ok(json!({ "bucket": bucket, "key": url_decode(raw_key), "size": size }))
    });
}

/// Decodes `%XX` escapes and `+` (S3 encodes keys like form values).
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
