#!/usr/bin/env python3
"""The gain of each change on an interleaved bench, as the issue-19 tables give it.

    python3 scripts/bench-ab.py [--bench call_paired] [--runs 5] REV1 REV2 [REV3 ...]

Builds the bench at each revision (in a throwaway worktree with its own target dir, so
the checkout and its target are untouched), then for each consecutive pair runs both
binaries RUNS times, interleaved ABBA, and prints the median of their per-run medians and
the gain (before minus after; for sandbox_paired, whose figure rises when better, after
minus before). A bench prints one line with `median ratio X` or `median X`.

One run of call_paired takes a few seconds; a build, about a minute per revision after
the first. Quote the figures of a quiet machine.
"""
import argparse
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def build(repo, rev, bench, work):
    tree = work / f"tree-{rev}"
    subprocess.run(["git", "-C", repo, "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
    try:
        env = dict(__import__("os").environ, CARGO_TARGET_DIR=str(work / "target"))
        out = subprocess.run(
            ["cargo", "bench", "-p", "gree-ump-benches", "--bench", bench, "--no-run"],
            cwd=tree, env=env, capture_output=True, text=True,
        )
        found = re.findall(r"\((/[^)]*/deps/" + re.escape(bench) + r"-[0-9a-f]+)\)", out.stderr)
        if out.returncode != 0 or not found:
            sys.exit(f"{rev}: the build failed:\n{out.stderr[-2000:]}")
        binary = work / f"{bench}-{rev}"
        shutil.copy(found[-1], binary)
        return binary
    finally:
        subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", str(tree)], check=False)


def run(binary):
    out = subprocess.run([str(binary), "--bench"], capture_output=True, text=True).stdout
    m = re.search(r"median(?: ratio)? ([\d.]+)", out)
    if not m:
        sys.exit(f"{binary}: no median in its output:\n{out}")
    return float(m.group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", default="call_paired")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("revs", nargs="+")
    args = p.parse_args()
    if len(args.revs) < 2:
        sys.exit("give at least two revisions")
    repo = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True).stdout.strip()
    higher_is_better = args.bench == "sandbox_paired"
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        work = pathlib.Path(tmp)
        binaries = {rev: build(repo, rev, args.bench, work) for rev in args.revs}
        for a, b in zip(args.revs, args.revs[1:]):
            runs = {a: [], b: []}
            for i in range(args.runs):
                for rev in (a, b) if i % 2 == 0 else (b, a):
                    runs[rev].append(run(binaries[rev]))
            before, after = statistics.median(runs[a]), statistics.median(runs[b])
            gain = after - before if higher_is_better else before - after
            print(f"{a} -> {b}: before {before:.3f} {sorted(runs[a])}, "
                  f"after {after:.3f} {sorted(runs[b])}, gain {gain:+.3f}", flush=True)


if __name__ == "__main__":
    main()
