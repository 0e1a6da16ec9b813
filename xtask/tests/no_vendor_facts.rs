//! Vendor facts live in the specs only: the runtime and the generator name no method,
//! host, heading or daily budget of UMP or zvcms in their non-test sources. A fact that
//! creeps back into generic code makes the next API inherit it (a budget of 1 and 20 for
//! an API that states none, a heading of another document).

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The vendor strings of a spec: method names, base-URL hosts, the errors heading.
fn vendor_strings(spec: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_base_urls = false;
    for line in spec.lines() {
        let trimmed = line.trim_start();
        let value = |key: &str| {
            trimmed
                .strip_prefix(key)
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        if let Some(v) = value("- method:")
            .or_else(|| value("obtain:"))
            .or_else(|| value("refresh:"))
            .or_else(|| value("errors_heading:"))
        {
            found.push(v);
        }
        if trimmed.starts_with("base_urls:") {
            in_base_urls = true;
            continue;
        }
        if in_base_urls {
            match trimmed.split_once(": ") {
                Some((_, url)) if line.starts_with("    ") => {
                    let host = url
                        .trim()
                        .trim_start_matches("https://")
                        .trim_start_matches("http://");
                    found.push(host.trim_end_matches('/').to_owned());
                }
                _ => in_base_urls = false,
            }
        }
    }
    found.retain(|s| s.len() > 3);
    found
}

/// Every `.rs` file under `dir`, with its text up to its first `#[cfg(test)]`.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).expect("read source");
                let non_test = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                out.push((path, non_test));
            }
        }
    }
    out
}

#[test]
fn runtime_and_generator_name_no_vendor_fact() {
    let root = root();
    let mut facts = Vec::new();
    for spec in ["api-spec/gree-ump.yaml", "api-spec/zvcms.yaml"] {
        facts.extend(vendor_strings(
            &fs::read_to_string(root.join(spec)).expect("read spec"),
        ));
    }
    assert!(
        facts.iter().any(|f| f == "dss.auth.token.query"),
        "the scan must see the specs' method names: {facts:?}"
    );
    assert!(facts.iter().any(|f| f == "ump.greedc.com"), "{facts:?}");
    assert!(facts.iter().any(|f| f == "异常返回码归纳"), "{facts:?}");

    let mut hits = Vec::new();
    for dir in ["crates/openplatform-runtime/src", "xtask/src"] {
        for (path, text) in sources(&root.join(dir)) {
            for (n, line) in text.lines().enumerate() {
                for fact in &facts {
                    if line.contains(fact.as_str()) {
                        hits.push(format!("{}:{}: {fact}", path.display(), n + 1));
                    }
                }
                // A daily budget written into generic code.
                let lower = line.to_lowercase();
                if lower.contains("daily_limit")
                    && (line.contains(": 1,") || line.contains(": 20,") || line.contains("= 20"))
                {
                    hits.push(format!("{}:{}: a daily budget", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "vendor facts outside the specs:\n{}",
        hits.join("\n")
    );
}
