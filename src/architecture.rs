//! The layering rule, checked by a test that reads `src/`:
//!
//! ```text
//! handlers ─> dto ─┐
//!    │             ├─> models (records) ─> db ─┐
//!    └─> services ─┤                           ├─> domain, error
//!          └─> repositories ───────────────────┘
//! ```
//!
//! A module may import only the layers listed for it in `ALLOWED`; anything else (a
//! repository importing a service, a service importing a DTO, the domain importing
//! diesel rows) fails the test with the file, the line and the import.

/// For each layer (a top folder or file of `src/`), the other layers it may import.
/// Layers not listed (main, lib, config, state, auth, ...) are the wiring and may import
/// anything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &["error"]),
    ("error", &[]),
    ("db", &["error", "domain"]),
    ("models", &["db", "domain", "error"]),
    ("repositories", &["db", "models", "domain", "error", "db_run", "keys"]),
    ("services", &["repositories", "models", "db", "domain", "error", "keys", "config"]),
    ("dto", &["domain", "models", "error", "config", "telemetry"]),
];

/// Every `crate::<layer>` path in `source`, outside comments and test modules, with its
/// line number.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let lines: Vec<&str> = source.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let next = lines.get(index + 1).map_or("", |l| l.trim_start());
        if line.trim() == "#[cfg(test)]" && next.starts_with("mod ") {
            // A test module ends its file and may reach any layer.
            break;
        }
        let mut rest = code;
        while let Some(start) = rest.find("crate::") {
            let after = &rest[start + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            // `crate::` preceded by an identifier character is another crate (`rapport::`
            // is not used inside src, but `my_crate::` could be).
            let preceded = rest[..start].chars().last().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !preceded && !name.is_empty() {
                found.push((index + 1, name));
            }
            rest = after;
        }
    }
    found
}

/// The imports of `layer` that break the rule, as `file:line: crate::x`.
fn violations(layer: &str, allowed: &[&str], file: &str, source: &str) -> Vec<String> {
    crate_paths(source)
        .into_iter()
        .filter(|(_, target)| target != layer && !allowed.contains(&target.as_str()))
        .map(|(line, target)| format!("{file}:{line}: `{layer}` may not import `crate::{target}`"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !is_test_module(&path) {
                out.push(path);
            }
        }
    }

    /// `tests.rs` and `testing.rs` are test modules (declared under `#[cfg(test)]`).
    fn is_test_module(path: &Path) -> bool {
        path.file_stem().is_some_and(|stem| stem == "tests" || stem == "testing")
    }

    fn all_violations() -> Vec<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for &(layer, allowed) in ALLOWED {
            let mut files = Vec::new();
            let folder = src.join(layer);
            if folder.is_dir() {
                rust_files(&folder, &mut files);
            }
            let file = src.join(format!("{layer}.rs"));
            if file.is_file() {
                files.push(file);
            }
            assert!(!files.is_empty(), "layer `{layer}` has no source under src/");
            for path in files {
                let source = std::fs::read_to_string(&path).unwrap();
                let name = path.strip_prefix(&src).unwrap().display().to_string();
                found.extend(violations(layer, allowed, &format!("src/{name}"), &source));
            }
        }
        found
    }

    #[test]
    fn layers_only_point_down() {
        let found = all_violations();
        assert!(found.is_empty(), "imports against the layering rule:\n{}", found.join("\n"));
    }

    #[test]
    fn an_upward_import_is_caught() {
        let service = "use crate::db::DbConn;\nuse crate::dto::orders::OrderInput;\n";
        assert_eq!(
            violations("services", &["db"], "src/services/x.rs", service),
            ["src/services/x.rs:2: `services` may not import `crate::dto`"]
        );
        let repository = "fn f() { crate::services::now(); } // crate::handlers in a comment\n";
        assert_eq!(violations("repositories", &[], "r.rs", repository).len(), 1);
        let with_tests = "use crate::error::AppError;\n#[cfg(test)]\nmod tests { use crate::services::x; }\n";
        assert!(violations("domain", &["error"], "d.rs", with_tests).is_empty());
    }
}
