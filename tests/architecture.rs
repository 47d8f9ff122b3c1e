//! The rules of the house (`../shared/DESIGN.md`, "Layout"), checked on the source itself: the
//! module graph derived from `crate::…`, `super::…` and `self::…` paths has no cycle; nothing
//! below `state/` imports it; `config` imports only core types; and each store's private
//! layout is spelled in exactly one module. Test code (`#[cfg(test)]` and below) and comments
//! are left out: they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// A module's path (`events::fold`; the crate root is the empty string), and its source
/// without comments and tests.
fn modules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().map(String::as_str) == Some("mod") {
            parts.pop();
        }
        if parts == ["lib"] || parts == ["main"] {
            parts.clear();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        out.insert(parts.join("::"), code_only(&text));
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The source up to its first `#[cfg(test)]`, without `//` comments (doc comments included).
/// Test modules of their own (`tests.rs`) are not walked at all.
fn code_only(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules each module refers to (the longest existing prefix of every path), leaving out
/// its own ancestors: a child may use what its parent declares.
fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let path =
        Regex::new(r"\b(crate|super|self)::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)").unwrap();
    let group = Regex::new(r"\buse crate::((?:[a-z_][a-z0-9_]*::)*)\{([^}]*)\}").unwrap();
    let mut edges = BTreeMap::new();
    for (name, code) in modules {
        let own: Vec<&str> = if name.is_empty() {
            vec![]
        } else {
            name.split("::").collect()
        };
        let mut refs = Vec::new();
        for c in path.captures_iter(code) {
            let tail = &c[2];
            refs.push(match &c[1] {
                "crate" => tail.to_string(),
                "super" => join(&own[..own.len().saturating_sub(1)], tail),
                _ => join(&own, tail),
            });
        }
        for c in group.captures_iter(code) {
            for item in c[2].split(',') {
                let item = item.trim().split([':', ' ']).next().unwrap_or_default();
                if !item.is_empty()
                    && item
                        .chars()
                        .next()
                        .is_some_and(|ch| ch.is_ascii_lowercase())
                {
                    refs.push(format!("{}{item}", &c[1]));
                }
            }
        }
        let targets: BTreeSet<String> = refs
            .iter()
            .filter_map(|r| resolve(modules, r))
            .filter(|t| !t.is_empty() && t != name && !name.starts_with(&format!("{t}::")))
            .collect();
        edges.insert(name.clone(), targets);
    }
    edges
}

fn join(prefix: &[&str], tail: &str) -> String {
    if prefix.is_empty() {
        tail.to_string()
    } else {
        format!("{}::{tail}", prefix.join("::"))
    }
}

fn resolve(modules: &BTreeMap<String, String>, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

/// The top-level module of a module path.
fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

#[test]
fn the_module_graph_has_no_cycle() {
    let modules = modules();
    let edges = graph(&modules);
    assert!(
        edges.values().map(BTreeSet::len).sum::<usize>() > 100,
        "the graph looks empty: the path patterns no longer match the source"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
    // The layers too: `rollup::activity -> events::event` and `events::fold -> rollup::files`
    // make no cycle of files, but one of folders.
    let mut layers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in &edges {
        let from = top(module);
        let to = targets.iter().map(|t| top(t)).filter(|t| *t != from);
        layers
            .entry(from.to_string())
            .or_default()
            .extend(to.map(str::to_string));
    }
    if let Some(cycle) = find_cycle(&layers) {
        panic!("import cycle between folders: {}", cycle.join(" -> "));
    }
}

#[test]
fn a_planted_cycle_is_found() {
    let mut modules = BTreeMap::new();
    modules.insert("a".to_string(), "use crate::b::Thing;".to_string());
    modules.insert("b".to_string(), "fn f() { crate::c::g() }".to_string());
    modules.insert("c".to_string(), "use crate::{a, d};".to_string());
    modules.insert("d".to_string(), String::new());
    let cycle = find_cycle(&graph(&modules)).expect("a cycle");
    assert_eq!(cycle, ["a", "b", "c", "a"]);
}

#[test]
fn nothing_below_the_state_imports_it_and_config_imports_only_core_types() {
    let edges = graph(&modules());
    let below_state = [
        "config",
        "accesslog",
        "visits",
        "events",
        "rollup",
        "alerts",
        "notify",
    ];
    let core = [
        "exit",
        "fsutil",
        "page_tier",
        "log_format",
        "net",
        "day",
        "escape",
        "words",
        "clock",
        "erase",
        "crashpoint",
    ];
    for (module, targets) in &edges {
        let layer = top(module);
        if below_state.contains(&layer) || core.contains(&layer) {
            let up: Vec<_> = targets
                .iter()
                .filter(|t| {
                    ["state", "pipeline", "commands", "privacy", "retention"].contains(&top(t))
                })
                .collect();
            assert!(up.is_empty(), "{module} imports upward: {up:?}");
        }
        if layer == "config" {
            let features: Vec<_> = targets
                .iter()
                .filter(|t| top(t) != "config" && !core.contains(&top(t)))
                .collect();
            assert!(
                features.is_empty(),
                "{module} imports a feature module: {features:?}"
            );
        }
        if core.contains(&layer) {
            let features: Vec<_> = targets
                .iter()
                .filter(|t| top(t) != layer && !core.contains(&top(t)) && top(t) != "config")
                .collect();
            assert!(
                features.is_empty(),
                "core module {module} imports {features:?}"
            );
        }
    }
}

/// Each private layout is spelled in exactly one module: the bytes of a visit line, the bit
/// layout of visitor keys, the `.eml` file of the outbox.
#[test]
fn each_store_layout_is_known_to_one_module() {
    let modules = modules();
    let owners = |needle: &Regex| -> Vec<String> {
        modules
            .iter()
            .filter(|(_, code)| needle.is_match(code))
            .map(|(m, _)| m.clone())
            .collect()
    };
    assert_eq!(owners(&Regex::new(r#"\\"ip\\":\\""#).unwrap()), ["visits"]);
    assert_eq!(owners(&Regex::new(r">>\s*32").unwrap()), ["rollup::keys"]);
    assert_eq!(owners(&Regex::new(r"\.eml").unwrap()), ["notify::outbox"]);
}
