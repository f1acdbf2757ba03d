//! The crate's modules import only downward, through the layers of `layers.txt`, and never in a
//! cycle. Reads the sources; run with `cargo test -p rest_hooks --test layers`, and print the module
//! graph with `REST_HOOKS_LAYERS=print`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path below the crate root, its layer first (`pipeline::dispatch`).
type Module = String;

fn layers() -> Vec<String> {
    let table = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("layers.txt")).expect("layers.txt");
    table
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The module a source file is: its path below `src`, `mod.rs` naming its folder
/// (`pipeline::dispatch`, `foundation::signing`, `foundation::signing::secret`).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> =
        relative.iter().map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    // lib.rs (the re-exports) is no layer's.
    (parts.len() > 1 || parts.first().is_some_and(|part| part != "lib")).then(|| parts.join("::"))
}

/// The modules `code` names as `crate::…`: for each path, the longest of `modules` it starts with.
fn imports(code: &str, layers: &[String], modules: &BTreeSet<Module>) -> Result<BTreeSet<Module>, String> {
    let mut found = BTreeSet::new();
    for line in code.lines().map(str::trim).filter(|line| !line.starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let path: String =
                line[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            if !segments.first().is_some_and(|layer| layers.iter().any(|known| known == layer)) {
                return Err(format!("`crate::{path}`: name the layer (`crate::<layer>::<module>::…`)"));
            }
            let module = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|prefix| modules.contains(prefix))
                .ok_or_else(|| format!("`crate::{path}` names no module"))?;
            found.insert(module);
        }
    }
    Ok(found)
}

fn graph() -> (Vec<String>, BTreeMap<Module, BTreeSet<Module>>, Vec<String>) {
    let layers = layers();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().filter_map(|file| module_of(&src, file)).collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else { continue };
        let code = std::fs::read_to_string(&file).expect("read a source");
        match imports(&code, &layers, &modules) {
            Ok(found) => graph.entry(module.clone()).or_default().extend(found.into_iter().filter(|m| *m != module)),
            Err(problem) => problems.push(format!("{}: {problem}", file.display())),
        }
    }
    (layers, graph, problems)
}

fn rank(layers: &[String], module: &str) -> usize {
    let layer = module.split("::").next().unwrap_or_default();
    layers.iter().position(|known| known == layer).unwrap_or(usize::MAX)
}

#[test]
fn modules_import_only_from_their_layer_or_below() {
    let (layers, graph, mut problems) = graph();
    if std::env::var("REST_HOOKS_LAYERS").is_ok_and(|v| v == "print") {
        for (module, imports) in &graph {
            println!("{module} -> {}", imports.iter().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    for (module, imports) in &graph {
        for imported in imports {
            if rank(&layers, imported) > rank(&layers, module) {
                problems.push(format!("{module} imports {imported}, from a higher layer"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let (_, graph, _) = graph();
    // Depth-first search; a module met again on the current path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module);
            cycles.push(cycle.join(" -> "));
            return;
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
