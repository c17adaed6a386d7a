//! The shape of `src/`: imports go one way between layers, and no two files
//! import each other, directly or through others. Reads every `use` of
//! `crate::`, `super::` and `self::`, and every inline `crate::…` path, of
//! each file (its `#[cfg(test)]` module left out), resolves it to the file
//! that defines it, and checks the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A file may import from its own layer's files
/// and from layers before it; `cli` and `app` stand side by side.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["store"],
    &["runtime"],
    &["host"],
    &["api"],
    &["cli", "app"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/host/queue.rs` is `["host", "queue"]`,
/// `src/host/mod.rs` is `["host"]`, `src/lib.rs` is `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file defining the longest prefix of `path` (module segments from the crate root).
fn resolve(path: &[String]) -> Option<PathBuf> {
    let mut dir = src();
    let mut found = None;
    for seg in path {
        let file = dir.join(format!("{seg}.rs"));
        let sub = dir.join(seg);
        if sub.join("mod.rs").exists() {
            found = Some(sub.join("mod.rs"));
            dir = sub;
        } else if file.exists() {
            return Some(file);
        } else {
            break;
        }
    }
    found.or_else(|| Some(src().join("lib.rs")))
}

/// The code of a file without comments and its test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `text` (in module `here`, with child modules `children`) refers to.
fn references(text: &str, here: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    // Inline and `use` paths starting with crate:: or super::.
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 && (ident(bytes[at - 1]) || bytes[at - 1] == b':') {
                continue;
            }
            let mut path: Vec<String> = match start {
                "crate::" => Vec::new(),
                "super::" => here[..here.len().saturating_sub(1)].to_vec(),
                _ => here.to_vec(),
            };
            let rest = &text[from..];
            for seg in rest.split("::") {
                let name: String = seg
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                match name.as_str() {
                    "" => break,
                    "super" => {
                        path.pop();
                        continue;
                    }
                    "self" => continue,
                    _ => {}
                }
                let whole = name.len() == seg.len();
                path.push(name);
                if !whole {
                    break;
                }
            }
            out.push(path);
        }
    }
    // `use child::…` of a module this file declares.
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line
            .strip_prefix("use ")
            .or_else(|| line.strip_prefix("pub use "))
        else {
            continue;
        };
        let first: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if children.contains(&first) {
            let mut path = here.to_vec();
            path.push(first);
            out.push(path);
        }
    }
    out
}

fn layer(file: &Path) -> Option<usize> {
    let top = module_of(file).into_iter().next()?;
    LAYERS.iter().position(|l| l.contains(&top.as_str()))
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut graph = BTreeMap::new();
    for file in &all {
        let text = code(&std::fs::read_to_string(file).unwrap());
        let here = module_of(file);
        let children: BTreeSet<String> = text
            .lines()
            .filter_map(|l| {
                let l = l
                    .trim_start()
                    .trim_start_matches("pub ")
                    .trim_start_matches("pub(crate) ");
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        let targets: BTreeSet<PathBuf> = references(&text, &here, &children)
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|t| t != file)
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

fn short(p: &Path) -> String {
    p.strip_prefix(src()).unwrap().display().to_string()
}

#[test]
fn imports_go_one_way_between_layers() {
    let mut wrong = Vec::new();
    for (file, targets) in graph() {
        let Some(from) = layer(&file) else { continue };
        for t in targets {
            let Some(to) = layer(&t) else {
                // lib.rs and main.rs sit above everything.
                if short(&t) == "lib.rs" {
                    wrong.push(format!("{} imports the crate root", short(&file)));
                }
                continue;
            };
            let same_top = module_of(&file)[0] == module_of(&t)[0];
            if to > from || (to == from && !same_top) {
                wrong.push(format!("{} imports {}", short(&file), short(&t)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let graph = graph();
    let mut cycles = Vec::new();
    for start in graph.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = path.iter().map(|p| short(p)).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), short(start)));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(
        cycles.is_empty(),
        "files that import each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_a_wrong_direction() {
    // The parser on known text: a host file naming the api, and a child
    // naming its parent's item.
    let here = vec!["host".to_owned(), "queue".to_owned()];
    let refs = references(
        "use crate::api::http::Listener;\nlet x = super::Services::default();",
        &here,
        &BTreeSet::new(),
    );
    let resolved: Vec<String> = refs
        .iter()
        .filter_map(|p| resolve(p))
        .map(|p| short(&p))
        .collect();
    assert_eq!(resolved, ["api/http.rs", "host/mod.rs"]);
    assert!(layer(&src().join("host/queue.rs")) < layer(&src().join("api/http.rs")));
}
