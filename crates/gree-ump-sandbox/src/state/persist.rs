//! The state file (`--state FILE`, `SandboxConfig::state_file`): what survives a restart.
//!
//! - **What**: members, member codes, ledgers and point changes, orders and returns,
//!   coupon templates and coupons, SMS codes, tokens and the day's token-call counters,
//!   the identifier counters (and their seed, so new ids never repeat old ones), and the
//!   clock's offset (a sandbox moved a day ahead stays a day ahead, so expiries and the
//!   budget day stay consistent with the state). Not saved: pending faults, the run-time
//!   knobs (timestamp scope, access-token lifetime) and the configuration, which come from
//!   the command line of each start.
//! - **When**: after every call that reached the state and every control that changes it,
//!   before the reply leaves, and only when something changed. An acknowledged write is
//!   therefore on disk, clean shutdown or not. What a call changed is appended to the
//!   change log beside the file (see `change_log`); the whole state is written only when
//!   the log outgrows it, so a call costs the size of its change, not of the state.
//! - **How**: the whole state, as JSON, written to a temporary file in the same
//!   directory, flushed to disk (fsync), then renamed over the file: a reader (or a crash)
//!   sees the old file or the new one, never half of one. On Unix the file is created
//!   owner-only (0600): it holds tokens and phone numbers. The temporary file is created
//!   exclusively under an unpredictable name, so a symlink planted beside the state file
//!   is never written through.
//! - **Loading**: a missing file starts fresh (and is created at once, so an unwritable
//!   path fails at start rather than at the first call). A file of another format
//!   version, or one that does not parse, stops the start with an error naming the file
//!   and what is wrong (a file of version 1, written before the change log, is read as
//!   it is); the file is left untouched (never overwritten, never silently
//!   replaced by an empty state). Error texts carry positions, not content: the file
//!   holds credentials and personal data.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{World, coupons, members, orders, points, sms, tokens, zvcms_coupons};
use crate::ids::IdGen;

/// The `format` field: tells a sandbox state file from any other JSON file.
pub const FORMAT: &str = "gree-ump-sandbox-state";
/// The version of the layout this sandbox writes. Version 2 added `log_generation` (the
/// change log beside the file); version 1 files are read too.
pub const VERSION: u64 = 2;

/// Why a state file cannot be used.
#[derive(Debug)]
pub struct StateFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, in words (never the file's content).
    pub problem: String,
}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state file {}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for StateFileError {}

impl From<StateFileError> for io::Error {
    fn from(e: StateFileError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    }
}

/// The part of a [`World`] that is saved, borrowed for writing.
#[derive(Serialize)]
struct SavedRef<'a> {
    format: &'static str,
    version: u64,
    log_generation: u64,
    clock_offset_ms: i64,
    id_seed: u64,
    ids: &'a IdGen,
    tokens: &'a tokens::TokenBook,
    members: &'a members::MemberBook,
    points: &'a points::PointBook,
    orders: &'a orders::OrderBook,
    coupons: &'a coupons::CouponBook,
    sms: &'a sms::SmsBook,
    zvcms_coupons: &'a zvcms_coupons::ZvcmsBook,
}

/// The same, read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    #[allow(dead_code)] // checked by `Header` first
    format: String,
    #[allow(dead_code)]
    version: u64,
    /// The change log that goes with it (absent in version 1: none).
    #[serde(default)]
    log_generation: u64,
    clock_offset_ms: i64,
    id_seed: u64,
    ids: IdGen,
    tokens: tokens::TokenBook,
    members: members::MemberBook,
    points: points::PointBook,
    orders: orders::OrderBook,
    coupons: coupons::CouponBook,
    sms: sms::SmsBook,
    /// Added after version 1's first files: absent in those, read as none.
    #[serde(default)]
    zvcms_coupons: zvcms_coupons::ZvcmsBook,
}

/// Read before the rest, so that another version is named as such rather than as a
/// missing field.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u64>,
}

/// What a loaded file restores besides the world.
pub(crate) struct Restored {
    pub clock_offset_ms: i64,
    /// The generation of the change log that goes with the file.
    pub log_generation: u64,
}

/// The encoded state of `world` with the clock at `clock_offset_ms`, for the change log
/// of `log_generation`.
pub(crate) fn encode(world: &World, clock_offset_ms: i64, log_generation: u64) -> Vec<u8> {
    let saved = SavedRef {
        format: FORMAT,
        version: VERSION,
        log_generation,
        clock_offset_ms,
        id_seed: world.ids.seed(),
        ids: &world.ids,
        tokens: &world.tokens,
        members: &world.members,
        points: &world.points,
        orders: &world.orders,
        coupons: &world.coupons,
        sms: &world.sms,
        zvcms_coupons: &world.zvcms,
    };
    // Maps with string keys and plain values: encoding cannot fail; an empty result is
    // never written (see `StateFile::save`).
    serde_json::to_vec_pretty(&saved).unwrap_or_default()
}

/// Words for a decoding error, without the content serde quotes (values of the file).
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Eof => format!("ends early at {at} (truncated?)"),
        Category::Syntax => format!("is not valid JSON at {at}"),
        Category::Io => "cannot be read".to_owned(),
        Category::Data => {
            let text = e.to_string();
            // Field names come from this program, not from the file: safe to show.
            let detail = ["missing field", "unknown field", "duplicate field"]
                .iter()
                .find(|p| text.starts_with(*p))
                .and_then(|_| text.split(" at line").next())
                .unwrap_or("a value has the wrong type or range");
            format!("does not match the state format at {at}: {detail}")
        }
    }
}

/// Restores the saved parts of `world` from `bytes` (the content of `path`).
pub(crate) fn decode_into(
    path: &Path,
    bytes: &[u8],
    world: &mut World,
) -> Result<Restored, StateFileError> {
    let problem = |problem: String| StateFileError {
        path: path.to_owned(),
        problem,
    };
    let header: Header = serde_json::from_slice(bytes).map_err(|e| problem(describe(&e)))?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(problem(format!(
            "not a sandbox state file (its \"format\" is not \"{FORMAT}\")"
        )));
    }
    match header.version {
        Some(1 | VERSION) => {}
        Some(v) => {
            return Err(problem(format!(
                "format version {v}; this sandbox reads versions 1 and {VERSION} (start with \
                 another --state file, or move this one away to start fresh)"
            )));
        }
        None => return Err(problem("no format \"version\"".to_owned())),
    }
    let saved: Saved = serde_json::from_slice(bytes).map_err(|e| problem(describe(&e)))?;
    let mut ids = saved.ids;
    ids.set_seed(saved.id_seed);
    world.ids = ids;
    world.tokens = saved.tokens;
    world.members = saved.members;
    world.points = saved.points;
    world.orders = saved.orders;
    world.coupons = saved.coupons;
    world.sms = saved.sms;
    world.zvcms = saved.zvcms_coupons;
    Ok(Restored {
        clock_offset_ms: saved.clock_offset_ms,
        log_generation: saved.log_generation,
    })
}

/// Reads the file: `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, StateFileError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateFileError {
            path: path.to_owned(),
            problem: format!("cannot be read: {e}"),
        }),
    }
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync,
/// rename, then (Unix) fsync of the directory so the rename itself is durable. Returns
/// the file, open for writing at its end (the change log appends to it).
///
/// The temporary file is created exclusively (`O_EXCL`: a symlink or file already at its
/// name makes the creation fail instead of being followed or truncated), owner-only
/// (0600: it holds tokens and phone numbers) and under an unpredictable name. A fixed
/// name (the process id) opened with create-and-truncate wrote the whole state through
/// a symlink planted at that name, into any file the sandbox's user may write.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    // `tempfile` creates it with O_CREAT | O_EXCL and mode 0600, retrying another random
    // name if one is taken; it removes the file if anything below fails.
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let file = tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        // Best effort: some file systems refuse to sync a directory.
        let _ = d.sync_all();
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SandboxConfig;

    fn world() -> World {
        World::new(SandboxConfig::default(), 7)
    }

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gree-ump-sandbox-persist-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip() {
        let mut w = world();
        w.obtain_token(1_700_000_000_000).unwrap();
        let bytes = encode(&w, 42, 5);
        let mut back = World::new(SandboxConfig::default(), 99);
        let restored = decode_into(Path::new("s.json"), &bytes, &mut back).unwrap();
        assert_eq!(restored.clock_offset_ms, 42);
        assert_eq!(restored.log_generation, 5);
        assert_eq!(back.ids.seed(), 7);
        assert_eq!(encode(&back, 42, 5), bytes);
    }

    #[test]
    fn wrong_files_are_named_errors() {
        let path = Path::new("/somewhere/state.json");
        let mut w = world();
        let cases: [(&[u8], &str); 6] = [
            (b"", "ends early"),
            (b"{\"format\": \"gree-ump", "ends early"),
            (b"[1, 2", "at line 1, column"),
            (b"{\"a\": 1}", "not a sandbox state file"),
            (
                br#"{"format": "gree-ump-sandbox-state", "version": 3}"#,
                "format version 3; this sandbox reads versions 1 and 2",
            ),
            (
                br#"{"format": "gree-ump-sandbox-state", "version": 1}"#,
                "missing field",
            ),
        ];
        for (bytes, expected) in cases {
            let e = decode_into(path, bytes, &mut w).err().unwrap();
            let text = e.to_string();
            assert!(
                text.starts_with("state file /somewhere/state.json: "),
                "{text}"
            );
            assert!(text.contains(expected), "{text}");
        }
        // A value of the wrong type: its position, not its content.
        let mut good: serde_json::Value = serde_json::from_slice(&encode(&w, 0, 0)).unwrap();
        good["clock_offset_ms"] = serde_json::json!("13800000000");
        let e = decode_into(path, &serde_json::to_vec(&good).unwrap(), &mut w)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("wrong type"), "{e}");
        assert!(!e.contains("13800000000"), "{e}");
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = dir();
        let path = dir.join("state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A symlink planted where the temporary file was once predictably named (the
    /// process id), or at any other name beside the state file, never receives the state
    /// nor has its target overwritten; the state is still saved, owner-only.
    #[cfg(unix)]
    #[test]
    fn planted_symlinks_never_receive_the_state() {
        use std::os::unix::fs::PermissionsExt;
        let dir = dir().join("symlinks");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let pid = std::process::id();
        let planted: Vec<String> = [
            format!(".state.json.tmp-{pid}"),
            format!(".state.json.tmp-{}", pid + 1),
            ".state.json.tmp".to_owned(),
            ".tmp".to_owned(),
            ".state.json".to_owned(),
        ]
        .into_iter()
        .collect();
        let mut targets = Vec::new();
        for (i, name) in planted.iter().enumerate() {
            let target = dir.join(format!("victim-{i}"));
            fs::write(&target, b"precious").unwrap();
            std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
            targets.push(target);
        }
        // Dangling links too: following one would create a file of the attacker's choice.
        let dangling = dir.join("created-through-a-link");
        std::os::unix::fs::symlink(&dangling, dir.join(format!(".state.json.tmp-{pid}x"))).unwrap();

        for round in 0..3u8 {
            let state = format!("{{\"phone\":\"13800000000\",\"round\":{round}}}");
            write_atomically(&path, state.as_bytes()).unwrap();
            assert_eq!(fs::read(&path).unwrap(), state.as_bytes(), "saved");
            for target in &targets {
                assert_eq!(
                    fs::read(target).unwrap(),
                    b"precious",
                    "{} was written through a planted link",
                    target.display()
                );
            }
            assert!(
                !dangling.exists(),
                "a file was created through a dangling link"
            );
            let meta = fs::symlink_metadata(&path).unwrap();
            assert!(
                meta.file_type().is_file(),
                "the state file is a regular file"
            );
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        // Only the planted links, the victims and the state file: no temporary left.
        let count = fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            count,
            planted.len() * 2 + 2,
            "a temporary file was left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
