//! The shape of the source: no top-level module imports one that imports it back. Each file is
//! assigned to the top-level module that declares it (following `mod` and `#[path]` from
//! `src/lib.rs`, so a provider's `mock.rs`, declared by `crate::mock`, belongs to `mock`), and
//! each `crate::NAME` in its code (comments and `#[cfg(test)]` modules left out) is an edge from
//! that module to `NAME`. A pair of edges both ways fails the test, naming the files.
//!
//! Written by hand rather than with a tool such as cargo-modules: it needs no install, reads in
//! milliseconds, and says exactly which files make a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every file of the crate, with the top-level module it belongs to (`None` for `lib.rs`).
fn files(src: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    let mut queue = vec![(src.join("lib.rs"), None::<String>, true)];
    while let Some((file, top, mod_rs)) = queue.pop() {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let dir = file.parent().unwrap().to_path_buf();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let mut path_attr: Option<String> = None;
        let mut test_only = false;
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("#[path = \"") {
                path_attr = rest.strip_suffix("\"]").map(str::to_owned);
                continue;
            }
            if line.starts_with("#[cfg(test)]") {
                test_only = true;
                continue;
            }
            let decl = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(name) = decl {
                if !test_only {
                    let base = if mod_rs { dir.clone() } else { dir.join(&stem) };
                    let (child, child_mod_rs) = match path_attr.take() {
                        Some(p) => (dir.join(p), true),
                        None if base.join(format!("{name}.rs")).exists() => {
                            (base.join(format!("{name}.rs")), false)
                        }
                        None => (base.join(name).join("mod.rs"), true),
                    };
                    let child_top = top.clone().or_else(|| Some(name.to_string()));
                    queue.push((child, child_top, child_mod_rs));
                }
            }
            if !line.starts_with("#[") {
                path_attr = None;
                test_only = false;
            }
        }
        out.push((file, top));
    }
    out
}

/// The code of a file: comments dropped, and a trailing `#[cfg(test)] mod tests { ... }` cut.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file's code names through `crate::`.
fn named(code: &str, tops: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let head = item.trim().split("::").next().unwrap_or("").trim();
                if tops.contains(head) {
                    out.insert(head.to_string());
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if tops.contains(&head) {
                out.insert(head);
            }
        }
    }
    out
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = files(&src);
    let tops: BTreeSet<String> = files.iter().filter_map(|(_, top)| top.clone()).collect();
    assert!(tops.len() > 10, "the modules were found: {tops:?}");
    assert!(
        files.iter().any(|(f, top)| f.ends_with("provider/gnoss/mock.rs")
            && top.as_deref() == Some("mock")),
        "a provider's mock belongs to crate::mock"
    );
    // (from, to) -> the files of `from` that name `to`.
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (file, top) in &files {
        let Some(top) = top else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for to in named(&code(&text), &tops) {
            if &to != top {
                let shown = file.strip_prefix(&src).unwrap().display().to_string();
                edges.entry((top.clone(), to)).or_default().insert(shown);
            }
        }
    }
    let cycles: Vec<String> = edges
        .iter()
        .filter(|((a, b), _)| a < b && edges.contains_key(&(b.clone(), a.clone())))
        .map(|((a, b), files)| {
            format!(
                "{a} -> {b} ({files:?}) and {b} -> {a} ({:?})",
                edges[&(b.clone(), a.clone())]
            )
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that import each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_check_sees_a_cycle() {
    let tops: BTreeSet<String> = ["config", "plan"].iter().map(|s| s.to_string()).collect();
    let config = code("use crate::{plan::UpdateRules, input};\n// crate::ledger\n");
    assert_eq!(named(&config, &tops), BTreeSet::from(["plan".to_string()]));
    let plan = code("fn f() -> crate::config::Target { todo!() }\n#[cfg(test)]\nmod tests {\n use crate::plan;\n}");
    assert_eq!(named(&plan, &tops), BTreeSet::from(["config".to_string()]));
}
