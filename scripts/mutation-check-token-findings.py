#!/usr/bin/env python3
"""Shows that each regression test of tests/token_findings.rs fails without its fix.

For each finding, the fix is undone in the source (one textual mutation), the finding's
tests are run, and the source is restored. Every line should say FAILS (or TIMEOUT for
the finding whose old behaviour is to hang). Run from anywhere:

    python3 scripts/mutation-check-token-findings.py [name-filter ...]

It needs Redis at REDIS_URL for none of its tests; it edits files in place while it
runs, so don't edit the tree at the same time.
"""
import subprocess, sys, os
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (name, file, old, new, tests)
M=[
 ("f01 default store is memory", "crates/openplatform-runtime/src/client/builder.rs",
  "            None => default_store(protocol.api)?,", "            None => { let _ = default_store; Arc::new(MemoryTokenStore::new()) }", ["f01"]),
 ("f02 no give-back", "crates/openplatform-runtime/src/tokens/manager.rs",
  "            && e.certainly_not_sent()\n", "            && e.certainly_not_sent() && false\n", ["f02"]),
 ("f03 key is the app id", "crates/openplatform-runtime/src/client/builder.rs",
  "let key = TokenManager::store_key(protocol.api, parsed.as_str(), &app_id);", "let key = app_id.clone();", ["f03_two_hosts"]),
 ("f04 unbounded skew", "crates/openplatform-runtime/src/clock.rs",
  "        if measured.saturating_abs() > self.max_skew_ms {", "        if false {", ["f04"]),
 ("f05 memory store forgets", "crates/openplatform-runtime/src/tokens/memory.rs",
  "        prune_days(&mut state.budgets, key, kind, day);", "        let _ = prune_days; state.budgets.retain(|(_, _, d), _| *d >= day);", ["f05"]),
 ("f06 bare access_token pattern", "crates/gree-ump/src/generated/mod.rs",
  "invalid_token_patterns: &[", "invalid_token_patterns: &[\"access_token\", ", ["f06"]),
 ("f06 refresh again after unproven rejection", "crates/openplatform-runtime/src/tokens/manager.rs",
  "        if self.has_unproven.load(Ordering::Acquire)\n", "        if false && self.has_unproven.load(Ordering::Acquire)\n", ["f06_a_token_issued"]),
 ("f07 margins not scaled", "crates/openplatform-runtime/src/tokens/manager.rs",
  "        let margin = ms(self.policy.expiry_margin).min(lifetime / 10);\n        let ahead = ms(self.policy.refresh_ahead).min(lifetime / 4);",
  "        let _ = lifetime; let margin = ms(self.policy.expiry_margin);\n        let ahead = ms(self.policy.refresh_ahead);", ["f07"]),
 ("f08 lease not renewed", "crates/openplatform-runtime/src/tokens/manager.rs",
  "let every = (self.policy.lock_lease / 3).max(Duration::from_millis(10));", "let every = Duration::from_secs(3600);", ["f08"]),
 ("f09 memory refresh token ignored", "crates/openplatform-runtime/src/tokens/manager.rs",
  "            (None, held) => held,", "            (None, _held) => None,", ["f09_a_refresh_token_held", "f09_a_store_that_lost"]),
 ("f12 no marker check", "crates/openplatform-runtime/src/tokens/manager.rs",
  "            self.explain_lost_obtain(now).await?;", "            let _ = self.explain_lost_obtain(now);", ["f12"]),
 ("f13 token calls with a body", "crates/openplatform-runtime/src/client/token_calls.rs",
  ".exchange(method, Verb::Post, credential, &[], Bytes::new())", ".exchange(method, Verb::Post, credential, &[], Bytes::from_static(b\"{}\"))", ["f13"]),
 ("f11 unchecked version", "crates/openplatform-runtime/src/tokens/manager.rs",
  "version: base.as_ref().map_or(1, |p| p.version.saturating_add(1)),", "version: base.as_ref().map_or(1, |p| p.version + 1),", ["f11_a_stored_version"]),
 ("f11 unclamped expire_in", "crates/openplatform-runtime/src/client/token_calls.rs",
  "        access_expires_at_ms: sent_at.saturating_add(lifetime_s.saturating_mul(1000)),", "        access_expires_at_ms: sent_at + lifetime_s * 1000,", ["f11_an_expire_in"]),
 ("f10 no store timeout", "crates/openplatform-runtime/src/tokens/manager.rs",
  "        match tokio::time::timeout(self.policy.store_timeout, work).await {", "        match Ok::<_, ()>(work.await) {", ["f10_a_store_that_never"]),
 ("f14 refresh token not masked", "crates/openplatform-runtime/src/client/token_calls.rs",
  "                text.replace(t.expose(), \"[REDACTED]\")", "                text", ["f14"]),
]
# f11 unclamped needs also the min(MAX_LIFETIME_S) removed
only = sys.argv[1:] 
results=[]
for name, f, old, new, tests in M:
    if only and not any(o in name for o in only): continue
    p=os.path.join(ROOT,f); s=open(p).read()
    if old not in s:
        results.append((name,'MUTATION NOT APPLICABLE')); continue
    s2=s.replace(old,new,1)
    if name=="f11 unclamped expire_in":
        s2=s2.replace("    .min(MAX_LIFETIME_S);","    ;",1)
    open(p,'w').write(s2)
    try:
        outs=[]
        for t in tests:
            r=subprocess.run(['cargo','test','-q','-p','workspace-tests','--test','token_findings',t],cwd=ROOT,capture_output=True,text=True,timeout=120,env=dict(os.environ,REDIS_URL='redis://127.0.0.1:6379/'))
            out=r.stdout+r.stderr
            if 'error[' in out or 'error:' in out and 'could not compile' in out:
                outs.append(f'{t}: COMPILE ERROR')
            else:
                line=[l for l in out.splitlines() if l.startswith('test result')]
                outs.append(f"{t}: {'FAILS' if r.returncode!=0 else 'passes'} {line[-1] if line else ''}")
        results.append((name,'; '.join(outs)))
    except subprocess.TimeoutExpired:
        subprocess.run(['pkill','-f','token_findings-'])
        results.append((name,'TIMEOUT (hangs)'))
    finally:
        open(p,'w').write(s)
for n,r in results: print(f"{n}: {r}")
