//! `cargo xtask imports` and the `imports` lint phase: proves that the modules of a crate import each
//! other without circles. Each `.rs` file under a crate's `src/` is one module (`a/mod.rs` and `a.rs` are
//! `a`; inline `mod x { .. }` blocks belong to their file). Every path that starts with `crate::`,
//! `super::` or `self::` — in `use` trees (braces, `self`, globs) and written inline (`super::x::f()`) — is
//! resolved to the deepest module it names and becomes an edge from the file's module to that module.
//! A module's references to its own submodules are not edges: a parent declares, re-exports and assembles
//! its children. Comments and string literals are skipped. The modules on a circle (a strongly connected
//! component of more than one module) are reported with the line of every edge between them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// The crate source trees the lint phase checks (relative to the repository root).
/// (`bench/src` joins once its `chaos::family` <-> `chaos::iec` registry circle is broken, `emulator/src` once
/// its `core::server` <-> `iec` circle is.)
pub const CHECKED: &[&str] = &["src", "xtask/src"];

/// A module path below the crate root (`[]` is the root).
type ModPath = Vec<String>;

/// One reference from a file's module to another module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: ModPath,
    to: ModPath,
    line: usize,
}

/// Checks every tree in `roots` (each a crate's `src/`); fails naming each circle.
pub fn check(root: &Path, roots: &[&str]) -> Result<()> {
    let mut report = String::new();
    for dir in roots {
        let files = read_tree(&root.join(dir)).with_context(|| format!("reading {dir}"))?;
        let circles = circles(&files);
        for circle in &circles {
            let _ = writeln!(
                report,
                "{dir}: import circle of {} modules:",
                circle.modules.len()
            );
            for edge in &circle.edges {
                let _ = writeln!(
                    report,
                    "  {} -> {}  ({}:{})",
                    show(&edge.from),
                    show(&edge.to),
                    files
                        .iter()
                        .find(|(m, _)| *m == edge.from)
                        .map_or_else(String::new, |(_, f)| f.path.display().to_string()),
                    edge.line
                );
            }
        }
        if circles.is_empty() {
            eprintln!("[xtask] {dir}: {} modules, no import circles", files.len());
        }
    }
    if !report.is_empty() {
        bail!("import circles found:\n{report}");
    }
    Ok(())
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// A source file and the text it holds.
struct SourceFile {
    path: PathBuf,
    text: String,
}

/// Every `.rs` file under `src` as (module path, file). `main.rs` of a tree that also has `lib.rs` is a
/// separate crate (the binary) and is skipped.
fn read_tree(src: &Path) -> Result<Vec<(ModPath, SourceFile)>> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    let has_lib = src.join("lib.rs").exists();
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path);
            if has_lib && rel == Path::new("main.rs") {
                continue;
            }
            let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push((module_of(rel), SourceFile { path, text }));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The module a file (relative to the crate's `src/`) defines.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// A circle: its modules and the edges among them.
#[derive(Debug)]
struct Circle {
    modules: Vec<ModPath>,
    edges: Vec<Edge>,
}

/// The import circles among `files`.
fn circles(files: &[(ModPath, SourceFile)]) -> Vec<Circle> {
    let known: BTreeSet<ModPath> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<(ModPath, ModPath), usize> = BTreeMap::new();
    for (module, file) in files {
        for edge in references(module, &file.text, &known) {
            edges.entry((edge.from, edge.to)).or_insert(edge.line);
        }
    }
    let nodes: Vec<ModPath> = known.iter().cloned().collect();
    let index: BTreeMap<&ModPath, usize> = nodes.iter().enumerate().map(|(i, m)| (m, i)).collect();
    let mut adjacency = vec![Vec::new(); nodes.len()];
    for (from, to) in edges.keys() {
        if let (Some(&a), Some(&b)) = (index.get(from), index.get(to)) {
            adjacency[a].push(b);
        }
    }
    strongly_connected(&adjacency)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|component| {
            let members: BTreeSet<usize> = component.iter().copied().collect();
            let modules: Vec<ModPath> = members.iter().map(|&i| nodes[i].clone()).collect();
            let edges = edges
                .iter()
                .filter(|((from, to), _)| {
                    index.get(from).is_some_and(|i| members.contains(i))
                        && index.get(to).is_some_and(|i| members.contains(i))
                })
                .map(|((from, to), line)| Edge {
                    from: from.clone(),
                    to: to.clone(),
                    line: *line,
                })
                .collect();
            Circle { modules, edges }
        })
        .collect()
}

/// Tarjan's strongly connected components (iterative).
fn strongly_connected(adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adjacency.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        // (node, position in its adjacency list)
        let mut work = vec![(start, 0usize)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if let Some(&w) = adjacency[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}

/// A token of Rust source, as far as paths need.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other,
}

/// Tokens with their line numbers; comments, strings and character literals dropped.
fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            count_lines(start, i, &mut line);
        } else if c == '"' || (matches!(c, 'r' | 'b') && raw_or_byte_string_at(&chars, i)) {
            let start = i;
            i = skip_string(&chars, i);
            count_lines(start, i, &mut line);
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push((Tok::Ident(word.trim_start_matches("r#").to_owned()), line));
        } else if c == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    ';' => Tok::Semi,
                    '*' => Tok::Star,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Whether a string literal with an `r`/`b`/`br` prefix starts at `i` (not an identifier such as `bar`).
fn raw_or_byte_string_at(chars: &[char], i: usize) -> bool {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) == Some(&'r') {
        j += 1;
        while chars.get(j) == Some(&'#') {
            j += 1;
        }
    }
    j > i && chars.get(j) == Some(&'"')
}

/// The index just past the string literal starting at `i` (plain, byte, raw with any number of `#`).
fn skip_string(chars: &[char], mut i: usize) -> usize {
    if chars.get(i) == Some(&'b') {
        i += 1;
    }
    if chars.get(i) == Some(&'r') {
        i += 1;
        let mut hashes = 0;
        while chars.get(i) == Some(&'#') {
            hashes += 1;
            i += 1;
        }
        i += 1; // opening quote
        while i < chars.len() {
            if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                return i + 1 + hashes;
            }
            i += 1;
        }
        return i;
    }
    i += 1; // opening quote
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The module edges of one file whose module is `module`.
fn references(module: &ModPath, text: &str, known: &BTreeSet<ModPath>) -> Vec<Edge> {
    let toks = tokenize(text);
    let mut paths: Vec<(ModPath, Vec<String>, usize)> = Vec::new();
    // Inline modules open at a brace depth: (name, depth of its body).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here = || {
            let mut m = module.clone();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        match &toks[i].0 {
            Tok::Open => {
                depth += 1;
                i += 1;
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(w) if w == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
                i += 1;
            }
            Tok::Ident(w) if w == "use" => {
                let line = toks[i].1;
                let mut j = i + 1;
                let mut found = Vec::new();
                use_tree(&toks, &mut j, Vec::new(), &mut found);
                let at = here();
                paths.extend(found.into_iter().map(|p| (at.clone(), p, line)));
                // Skip to the end of the statement (braces inside were consumed by `use_tree`).
                while j < toks.len() && toks[j].0 != Tok::Semi {
                    j += 1;
                }
                i = j;
            }
            Tok::Ident(w) if matches!(w.as_str(), "crate" | "super" | "self") => {
                let follows_in = i > 0 && toks[i - 1].0 == Tok::Ident("in".into());
                if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep) && !follows_in {
                    let line = toks[i].1;
                    let mut segs = vec![w.clone()];
                    let mut j = i + 1;
                    while toks.get(j).map(|t| &t.0) == Some(&Tok::PathSep) {
                        match toks.get(j + 1).map(|t| &t.0) {
                            Some(Tok::Ident(s)) => {
                                segs.push(s.clone());
                                j += 2;
                            }
                            _ => break,
                        }
                    }
                    paths.push((here(), segs, line));
                    i = j;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    let mut edges = Vec::new();
    for (at, segs, line) in paths {
        let Some(target) = resolve(&at, &segs, known) else {
            continue;
        };
        // References to the module itself or to its own submodules are structure, not imports.
        if target.starts_with(module) {
            continue;
        }
        edges.push(Edge {
            from: module.clone(),
            to: target,
            line,
        });
    }
    edges
}

/// Expands a `use` tree starting at `*j` into full paths (a trailing `*` and `self` name the prefix).
fn use_tree(toks: &[(Tok, usize)], j: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if toks.get(*j).map(|t| &t.0) == Some(&Tok::PathSep) {
        *j += 1;
    }
    loop {
        match toks.get(*j).map(|t| &t.0) {
            Some(Tok::Open) => {
                *j += 1;
                loop {
                    match toks.get(*j).map(|t| &t.0) {
                        Some(Tok::Close) => {
                            *j += 1;
                            return;
                        }
                        Some(Tok::Comma) => *j += 1,
                        None | Some(Tok::Semi) => return,
                        Some(_) => use_tree(toks, j, prefix.clone(), out),
                    }
                }
            }
            Some(Tok::Star) => {
                *j += 1;
                out.push(prefix);
                return;
            }
            Some(Tok::Ident(s)) => {
                if s != "self" || prefix.is_empty() {
                    prefix.push(s.clone());
                }
                *j += 1;
                if toks.get(*j).map(|t| &t.0) == Some(&Tok::PathSep) {
                    *j += 1;
                    continue;
                }
                if toks.get(*j).map(|t| &t.0) == Some(&Tok::Ident("as".into())) {
                    *j += 2;
                }
                out.push(prefix);
                return;
            }
            _ => {
                // Anything else (a stray token) ends this branch of the tree.
                if !prefix.is_empty() {
                    out.push(prefix);
                }
                return;
            }
        }
    }
}

/// The deepest known file module a path names, seen from module `at`; `None` for paths that do not start
/// at `crate`, `super` or `self` (other crates, local names).
fn resolve(at: &ModPath, segs: &[String], known: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut cur: ModPath = match segs.first()?.as_str() {
        "crate" => Vec::new(),
        "super" => at[..at.len().checked_sub(1)?].to_vec(),
        "self" => at.clone(),
        _ => return None,
    };
    for seg in &segs[1..] {
        match seg.as_str() {
            "super" => {
                cur.pop();
            }
            "self" => {}
            name => {
                let mut child = cur.clone();
                child.push(name.to_owned());
                // Inline modules are not files; keep walking so `super` from inside them resolves.
                if known.contains(&child) || !known.contains(&cur) {
                    cur = child;
                } else {
                    break;
                }
            }
        }
    }
    // An inline module (or a path ending in an item) belongs to the nearest enclosing file module.
    while !known.contains(&cur) && !cur.is_empty() {
        cur.pop();
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> (ModPath, SourceFile) {
        (
            module_of(Path::new(path)),
            SourceFile {
                path: PathBuf::from(path),
                text: text.to_owned(),
            },
        )
    }

    fn names(files: &[(ModPath, SourceFile)]) -> Vec<Vec<String>> {
        circles(files)
            .into_iter()
            .map(|c| c.modules.iter().map(show).collect())
            .collect()
    }

    #[test]
    fn finds_a_circle_through_use_trees_and_inline_paths() {
        let files = vec![
            file("lib.rs", "pub mod a; pub mod b; pub mod c;"),
            file("a.rs", "use crate::{b::{self, Thing as T}, x};\n"),
            file("b.rs", "fn f() { super::c::g(); }"),
            file("c.rs", "use super::a::*;"),
        ];
        assert_eq!(names(&files), vec![vec!["a", "b", "c"]]);
        let circle = &circles(&files)[0];
        assert_eq!(circle.edges.len(), 3, "{circle:?}");
    }

    #[test]
    fn a_parent_using_its_children_is_no_circle() {
        let files = vec![
            file("lib.rs", "pub mod p;"),
            file(
                "p/mod.rs",
                "pub mod child; pub use child::X; fn f() { self::child::g(); crate::p::child::h(); }",
            ),
            file("p/child.rs", "use super::Trait; use crate::p::Other;"),
        ];
        assert!(names(&files).is_empty(), "{:?}", names(&files));
    }

    #[test]
    fn a_child_using_a_sibling_that_uses_it_is_a_circle() {
        let files = vec![
            file("lib.rs", "pub mod p;"),
            file("p/mod.rs", "mod x; mod y;"),
            file("p/x.rs", "use super::y::Y;"),
            file("p/y.rs", "pub fn f() -> super::x::X { super::x::X::default() }"),
        ];
        assert_eq!(names(&files), vec![vec!["p::x", "p::y"]]);
    }

    #[test]
    fn comments_strings_and_test_modules_resolve_correctly() {
        let files = vec![
            file("lib.rs", "pub mod a; pub mod b;"),
            file(
                "a.rs",
                "// use crate::b::X;\n/* crate::b::Y /* nested */ */\nconst S: &str = \"crate::b::Z\";\n\
                 const R: &str = r#\"use crate::b;\"#; const C: char = '\"'; fn f<'a>(x: &'a str) {}\n\
                 #[cfg(test)] mod tests { use super::*; }\n",
            ),
            file("b.rs", "use crate::a::f; pub(in crate::a) struct Q;"),
        ];
        assert!(names(&files).is_empty(), "{:?}", names(&files));
    }

    #[test]
    fn super_inside_an_inline_module_is_the_file_itself() {
        let files = vec![
            file("lib.rs", "pub mod a; pub mod b;"),
            file("a.rs", "mod inner { use super::super::b::X; }"),
            file("b.rs", "use crate::a::Y;"),
        ];
        assert_eq!(names(&files), vec![vec!["a", "b"]]);
    }

    #[test]
    fn the_checked_trees_have_no_circles() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if let Err(e) = check(&root, CHECKED) {
            panic!("{e:#}");
        }
    }
}
