//! What the `ump` tests share: the built binary, set up to talk to one sandbox.

use std::path::Path;
use std::process::Command;

use gree_ump_sandbox::SandboxHandle;

/// `ump` with none of the caller's `UMP_*` variables, talking to `sandbox` with the
/// sandbox's credentials, keeping its tokens in `dir/tokens` and its configuration and
/// state under `dir` (never the user's own). Arguments, input and the working
/// directory are the caller's.
pub fn ump(sandbox: &SandboxHandle, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ump"));
    for (k, _) in std::env::vars() {
        if k.starts_with("UMP_") {
            c.env_remove(k);
        }
    }
    c.env("UMP_BASE_URL", sandbox.base_url())
        .env("UMP_APP_ID", sandbox.app_id())
        .env("UMP_APP_SECRET", sandbox.app_secret())
        .env(
            "UMP_TOKEN_STORE",
            format!("file:{}", dir.join("tokens").display()),
        )
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("state"));
    c
}
