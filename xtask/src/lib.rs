//! The workspace's code generator: `api-spec/*.yaml` → `crates/*/src/generated/*.rs`.
//!
//! Pipeline: spec text → [`spec`] (serde mirror of the YAML) → [`validate`] → [`ir`]
//! (resolved model) → [`codegen`] (tokens with `quote`, formatted with `prettyplease`).
//! Nothing here knows a vendor: what differs between APIs is a key of the spec.

pub mod api_diff;
pub mod audit;
pub mod codegen;
pub mod doc_audit;
mod error;
pub mod ir;
pub mod metadata;
pub mod openapi;
pub mod spec;
pub mod validate;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

pub use codegen::GeneratedFile;
pub use error::Error;

/// The spec files of the workspace, sorted: every `api-spec/*.yaml`.
pub fn spec_paths(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let dir = root.join("api-spec");
    let entries = fs::read_dir(&dir).map_err(|e| Error::read(dir.display(), e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Error::NoSpec {
            dir: dir.display().to_string(),
        });
    }
    Ok(paths)
}

/// The spec of the workspace whose `audit` key describes a document layout, when there is
/// exactly one; `cargo xtask audit-doc` uses it unless told `--spec`.
pub fn audited_spec(root: &Path) -> Result<PathBuf, String> {
    let mut found = Vec::new();
    for path in spec_paths(root).map_err(|e| e.to_string())? {
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if let Ok(spec) = serde_saphyr::from_str::<spec::SpecFile>(&text)
            && spec.audit.is_some()
        {
            found.push(path);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("no spec in api-spec/ has an `audit` key; pass --spec FILE".into()),
        _ => Err("several specs have an `audit` key; pass --spec FILE".into()),
    }
}

/// Generates the files of one spec given its text; `path` is how headers name it.
pub fn generate_from_str(path: &str, text: &str) -> Result<Vec<GeneratedFile>, Error> {
    let api = validate::load(path, text)?;
    codegen::generate(&api)
}

/// The target crate's manifest with its `[package.metadata.vendor-document]` section as
/// the spec says (`metadata`), or `None` when the target has no `Cargo.toml` here.
fn manifest_of(root: &Path, path: &str, text: &str) -> Result<Option<GeneratedFile>, Error> {
    let api = validate::load(path, text)?;
    let rel = format!("{}/Cargo.toml", api.target);
    let Ok(current) = fs::read_to_string(root.join(&rel)) else {
        return Ok(None);
    };
    Ok(Some(GeneratedFile {
        contents: metadata::apply(&current, &api),
        path: rel,
    }))
}

/// The OpenAPI documents of one spec given its text: beside the spec, and the sandbox's
/// copy.
pub fn openapi_from_str(path: &str, text: &str) -> Result<Vec<GeneratedFile>, Error> {
    let api = validate::load(path, text)?;
    Ok(openapi::files(&api))
}

/// Whether a generated file is an OpenAPI document (`cargo xtask openapi` writes it).
fn is_openapi(path: &str) -> bool {
    path.ends_with(".openapi.json")
}

/// The OpenAPI documents of every spec of the workspace at `root`.
pub fn openapi_all(root: &Path) -> Result<Vec<GeneratedFile>, Error> {
    Ok(generate_all(root)?
        .into_iter()
        .filter(|f| is_openapi(&f.path))
        .collect())
}

/// Writes the OpenAPI documents only; returns the paths written.
pub fn write_openapi(root: &Path) -> Result<Vec<String>, Error> {
    write_files(root, openapi_all(root)?)
}

/// Generates the files of every spec of the workspace at `root`: code, manifests and
/// OpenAPI documents.
pub fn generate_all(root: &Path) -> Result<Vec<GeneratedFile>, Error> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in spec_paths(root)? {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = fs::read_to_string(&path).map_err(|e| Error::read(&rel, e))?;
        let all = generate_from_str(&rel, &text).and_then(|f| {
            Ok((
                f,
                manifest_of(root, &rel, &text)?,
                openapi_from_str(&rel, &text)?,
            ))
        });
        match all {
            Ok((f, manifest, openapi)) => {
                files.extend(f);
                files.extend(manifest);
                files.extend(openapi);
            }
            Err(e) => problems.push(e),
        }
    }
    match problems.len() {
        0 => Ok(files),
        1 => Err(problems.remove(0)),
        _ => Err(Error::Several(problems)),
    }
}

/// Writes every generated file; returns the paths written.
pub fn regenerate(root: &Path) -> Result<Vec<String>, Error> {
    write_files(root, generate_all(root)?)
}

/// Writes the files that differ from what is on disk; returns their paths.
fn write_files(root: &Path, files: Vec<GeneratedFile>) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for f in files {
        let path = root.join(&f.path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::Create {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let current = fs::read_to_string(&path).ok();
        if current.as_deref() != Some(f.contents.as_str()) {
            fs::write(&path, &f.contents).map_err(|source| Error::Write {
                path: f.path.clone(),
                source,
            })?;
            written.push(f.path);
        }
    }
    Ok(written)
}

/// Fails when a spec is invalid or a checked-in generated file differs from what the
/// spec generates now (or a stale generated file remains).
pub fn check(root: &Path) -> Result<usize, Error> {
    let files = generate_all(root)?;
    let mut report = String::new();
    let mut dirs = std::collections::BTreeSet::new();
    for f in &files {
        let path = root.join(&f.path);
        // A manifest shares its directory with hand-written files, and a document
        // beside its spec shares api-spec/; generated modules and the sandbox's copies
        // of the documents own theirs, where any other file is stale.
        let shares_dir = f.path.ends_with("Cargo.toml")
            || (is_openapi(&f.path) && f.path.starts_with("api-spec/"));
        if let Some(d) = path.parent().filter(|_| !shares_dir) {
            dirs.insert(d.to_path_buf());
        }
        // An OpenAPI document alone can be rewritten by its own command.
        let fix = if is_openapi(&f.path) {
            " (run `cargo xtask openapi`)"
        } else {
            ""
        };
        match fs::read_to_string(&path) {
            Ok(current) if current == f.contents => {}
            Ok(current) => {
                let line = first_difference(&current, &f.contents);
                let _ = writeln!(
                    report,
                    "  {}: stale (first difference at line {line}){fix}",
                    f.path
                );
            }
            Err(_) => {
                let _ = writeln!(report, "  {}: missing{fix}", f.path);
            }
        }
    }
    for dir in dirs {
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                if !files.iter().any(|f| f.path == rel) {
                    let _ = writeln!(report, "  {rel}: not generated by any spec (remove it)");
                }
            }
        }
    }
    if report.is_empty() {
        Ok(files.len())
    } else {
        Err(Error::Stale { report })
    }
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}
