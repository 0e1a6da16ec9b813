#!/usr/bin/env python3
"""Prints the ratios the issues set floors on, from criterion's last run.

Run the benches first:
    cargo bench -p gree-ump-benches --bench signing
    cargo bench -p gree-ump-benches --bench call
    cargo bench -p gree-ump-benches --bench throughput

The criterion `call` bench measures its two contenders one after the other, so machine
drift between them moves its ratio by 10-15% run to run; `cargo bench -p gree-ump-benches --bench
call_paired` interleaves them and prints a steadier median ratio itself.
"""
import json
import os
import pathlib
import sys

# Where criterion writes, in its own order: $CRITERION_HOME, $CARGO_TARGET_DIR/criterion,
# else the workspace's target dir (the benches live in crates/benches, a workspace member,
# so their results land in the workspace's target/criterion like every other package's).
WORKSPACE = pathlib.Path(__file__).resolve().parent.parent
if os.environ.get("CRITERION_HOME"):
    ROOT = pathlib.Path(os.environ["CRITERION_HOME"])
elif os.environ.get("CARGO_TARGET_DIR"):
    ROOT = pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
else:
    ROOT = WORKSPACE / "target" / "criterion"


def median_ns(group: str, bench: str) -> float:
    path = ROOT / group / bench / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def main() -> int:
    ok = True
    try:
        md5 = median_ns("sign_4KiB", "bare_md5")
        sign = median_ns("sign_4KiB", "ump_sign")
        share = md5 / sign
        print(f"signing 4 KiB: {share:.1%} of bare MD5 throughput (floor 90%)")
        ok &= share >= 0.90
    except FileNotFoundError:
        print("no signing results: cargo bench -p gree-ump-benches --bench signing")
    try:
        hand = median_ns("query_member_call", "hand_written_reqwest")
        client = median_ns("query_member_call", "gree_ump_client")
        ratio = client / hand
        print(f"full call: client median {ratio:.3f}x the hand-written reqwest call (floor 1.10x)")
        ok &= ratio <= 1.10
    except FileNotFoundError:
        print("no call results: cargo bench -p gree-ump-benches --bench call")
    try:
        bare = median_ns("sandbox_throughput", "bare_axum")
        sandbox = median_ns("sandbox_throughput", "sandbox_member_query")
        print(f"sandbox: {bare / sandbox:.2f} of a bare axum handler's requests per second (floor 0.5)")
    except FileNotFoundError:
        pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
