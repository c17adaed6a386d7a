//! Where a JSON pointer is in a JSON text: the line of the member or item
//! it names, so a problem found by pointer can be marked at its line in an
//! editor (and printed with it).

/// The 1-based line of the value `pointer` names in `text` (the line of its
/// key, for an object member); `None` when the text does not hold it.
pub fn line_of(text: &str, pointer: &str) -> Option<usize> {
    let wanted: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        line: 1,
    };
    s.ws();
    s.find(&wanted)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.i += 1;
        }
    }

    /// Reads a string at `i` (on its opening quote); returns it (escapes kept simple).
    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = std::str::from_utf8(self.b.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)
                                .unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                b'\n' => {
                    self.line += 1;
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        None
    }

    /// Skips one value.
    fn skip(&mut self) -> Option<()> {
        self.ws();
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    match c {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        b'\n' => self.line += 1,
                        _ => {}
                    }
                    self.i += 1;
                }
                None
            }
            _ => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        return Some(());
                    }
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// At a value: follows `path` into it; returns the line where it ends.
    fn find(&mut self, path: &[String]) -> Option<usize> {
        self.ws();
        let Some((first, rest)) = path.split_first() else {
            return Some(self.line);
        };
        match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b'}' => return None,
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        b'"' => {}
                        _ => return None,
                    }
                    let key_line = self.line;
                    let key = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return None;
                    }
                    self.i += 1;
                    if &key == first {
                        return if rest.is_empty() {
                            Some(key_line)
                        } else {
                            self.find(rest)
                        };
                    }
                    self.skip()?;
                }
            }
            b'[' => {
                let index: usize = first.parse().ok()?;
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b']' => return None,
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    if n == index {
                        return self.find(rest);
                    }
                    self.skip()?;
                    n += 1;
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_find_their_lines() {
        let text = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\n      \"Type\": \"Choice\",\n      \"Choices\": [\n        {\"Next\": \"x\"},\n        {\n          \"Next\": \"y/z\"\n        }\n      ]\n    }\n  }\n}";
        assert_eq!(line_of(text, ""), Some(1));
        assert_eq!(line_of(text, "/StartAt"), Some(2));
        assert_eq!(line_of(text, "/States/A"), Some(4));
        assert_eq!(line_of(text, "/States/A/Choices/0/Next"), Some(7));
        assert_eq!(line_of(text, "/States/A/Choices/1/Next"), Some(9));
        assert_eq!(line_of(text, "/States/B"), None);
        assert_eq!(line_of("{\"a/b\": {\"c~d\": 1}}", "/a~1b/c~0d"), Some(1));
        // Hostile text ends the search, never panics.
        for bad in ["", "{", "[1,", "{\"a\":", "\"unterminated", "{\"a\" 1}"] {
            let _ = line_of(bad, "/a/0/b");
        }
    }
}
