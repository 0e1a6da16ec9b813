#!/usr/bin/env bash
# Cold debug builds of a minimal user binary (gree-ump with one TLS feature, tokio `rt` and
# `macros`), each in a fresh target directory, with `cargo build --timings`: the wall time,
# and the five slowest units with gree-ump's own. Run from the workspace root:
#   bash scripts/cold-build-figures.sh [feature...]   (default: rustls-ring rustls native-tls)
# The figures depend on the machine and its load: compare features in one run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
features=("$@")
[ ${#features[@]} -eq 0 ] && features=(rustls-ring rustls native-tls)
{
  echo '[package]'
  echo 'name = "minbin"'
  echo 'version = "0.1.0"'
  echo 'edition = "2024"'
  echo 'publish = false'
  echo '[features]'
  for f in rustls rustls-ring native-tls; do echo "$f = [\"gree-ump/$f\"]"; done
  echo '[dependencies]'
  echo "gree-ump = { path = \"$root/crates/gree-ump\", default-features = false }"
  echo 'tokio = { version = "1", features = ["rt", "macros"] }'
  echo '[workspace]'
} > "$work/Cargo.toml"
cat > "$work/src/main.rs" <<'RS'
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = gree_ump::Client::builder()
        .base_url("http://127.0.0.1:9")
        .app_id("app")
        .app_secret("secret")
        .token_store(std::sync::Arc::new(gree_ump::MemoryTokenStore::new()))
        .build()?;
    let request = gree_ump::endpoints::QueryMemberRequest::new().phone("13800000000");
    println!("{}", client.members().query_member(request).await.is_err());
    Ok(())
}
RS
cp "$root/Cargo.lock" "$work/Cargo.lock"
cd "$work"
for f in "${features[@]}"; do
  start=$(date +%s.%N)
  CARGO_TARGET_DIR="target-$f" cargo build -q --no-default-features --features "$f" --timings 2>/dev/null
  end=$(date +%s.%N)
  printf '%s: cold build %.1f s (load average %s)\n' "$f" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
  python3 - "target-$f" <<'PY'
import glob, json, re, sys
html = open(sorted(glob.glob(sys.argv[1] + "/cargo-timings/cargo-timing-*.html"))[-1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
units.sort(key=lambda u: -u["duration"])
for u in units[:5]:
    print(f"  {u['name']} {u['version']} {u.get('target', '').strip()}: {u['duration']:.1f} s")
print("  gree-ump itself:", ", ".join(f"{u['duration']:.1f} s" for u in units if u["name"] == "gree-ump"))
PY
done
