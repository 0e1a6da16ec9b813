//! `cargo xtask diff`: argument handling, spec loading (files or git revisions), the
//! crate's version, and the CHANGELOG insertion. The comparison is `xtask::api_diff`.

use std::path::Path;
use std::process::{Command, ExitCode};

use xtask::api_diff;

/// A spec to compare: its name for messages and its text.
struct Source {
    name: String,
    text: String,
}

/// Reads `arg`: a file, or `REV:PATH` from git.
fn source(root: &Path, arg: &str) -> Result<Source, String> {
    let file = root.join(arg);
    if Path::new(arg).is_file() || file.is_file() {
        let path = if Path::new(arg).is_file() {
            Path::new(arg).to_path_buf()
        } else {
            file
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(Source {
            name: arg.to_string(),
            text,
        });
    }
    match arg.split_once(':') {
        Some((rev, path)) if !rev.is_empty() && !path.is_empty() => Ok(Source {
            name: arg.to_string(),
            text: git_show(root, rev, path)?,
        }),
        _ => Err(format!("{arg} is neither a file nor REV:PATH")),
    }
}

fn git_show(root: &Path, rev: &str, path: &str) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .arg("show")
        .arg(format!("{rev}:{path}"))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {rev}:{path}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{rev}:{path} is not UTF-8"))
}

/// The workspace's version (`[workspace.package] version`), which every crate inherits.
fn workspace_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(v) = line.strip_prefix("version = \"") {
            return v.strip_suffix('"').map(str::to_string);
        }
    }
    None
}

/// Inserts `entry` above the first release heading (`## `) of the changelog, newest first.
pub fn insert_entry(changelog: &str, entry: &str) -> String {
    let mut out = String::with_capacity(changelog.len() + entry.len() + 1);
    let mut done = false;
    for line in changelog.split_inclusive('\n') {
        if !done && line.starts_with("## ") {
            out.push_str(entry);
            out.push('\n');
            done = true;
        }
        out.push_str(line);
    }
    if !done {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
        }
        out.push_str(entry);
    }
    out
}

pub fn run(
    root: &Path,
    positional: Vec<String>,
    version: Option<String>,
    changelog: Option<String>,
) -> ExitCode {
    let pairs: Vec<(String, String)> = match positional.as_slice() {
        [old, new] => vec![(old.clone(), new.clone())],
        [rev] => match xtask::spec_paths(root) {
            Ok(paths) => paths
                .iter()
                .map(|p| {
                    let rel = p
                        .strip_prefix(root)
                        .unwrap_or(p)
                        .to_string_lossy()
                        .replace('\\', "/");
                    (format!("{rev}:{rel}"), rel)
                })
                .collect(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("error: diff needs OLD NEW, or REV (cargo xtask diff --help)");
            return ExitCode::from(2);
        }
    };
    let Some(current) = version.or_else(|| workspace_version(root)) else {
        eprintln!("error: no [workspace.package] version in Cargo.toml; pass --version");
        return ExitCode::from(2);
    };
    let mut entries = String::new();
    for (old, new) in pairs {
        let loaded = source(root, &old).and_then(|o| source(root, &new).map(|n| (o, n)));
        let (old, new) = match loaded {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let apis = xtask::validate::load(&old.name, &old.text)
            .and_then(|o| xtask::validate::load(&new.name, &new.text).map(|n| (o, n)));
        let (o, n) = match apis {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        if o.name != n.name {
            eprintln!(
                "error: {} describes {} and {} describes {}: a diff compares two versions of one API",
                old.name, o.name, new.name, n.name
            );
            return ExitCode::from(2);
        }
        let d = api_diff::diff(&o, &n);
        print!("{}", d.render(&current));
        if d.verdict().is_some() {
            let entry = d.changelog_entry(&current);
            println!("\ndrafted CHANGELOG entry:\n\n{entry}");
            entries.push_str(&entry);
        }
    }
    if let (Some(file), false) = (changelog, entries.is_empty()) {
        let path = root.join(&file);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, insert_entry(&current, &entries)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        println!("inserted the entry into {file}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::insert_entry;

    #[test]
    fn entries_go_above_the_newest_release() {
        let log = "# Changelog\n\nIntro.\n\n## [0.1.0] - 2026-11-01\n\n- first\n";
        let out = insert_entry(log, "## [0.2.0] - unreleased\n\n- new\n");
        assert_eq!(
            out,
            "# Changelog\n\nIntro.\n\n## [0.2.0] - unreleased\n\n- new\n\n## [0.1.0] - 2026-11-01\n\n- first\n"
        );
        assert_eq!(
            insert_entry("# Changelog\n", "## [x]\n"),
            "# Changelog\n\n## [x]\n"
        );
    }
}
