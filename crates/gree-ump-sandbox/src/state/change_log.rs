//! The state file's change log: what a call changed, appended beside the last full
//! snapshot, so that the cost of saving a call is the size of its change, not of the
//! whole state.
//!
//! - **Files**: the snapshot `FILE` (the whole state, as `persist` writes it) and the
//!   log `FILE.log`: a header line naming the snapshot's generation, then one JSON line
//!   per saved call: the entries of the tracked maps it changed (`[map, key, value]`,
//!   `null` for a removed key) and the counters and clock when they changed.
//! - **Durable**: a line is written and flushed to disk (`fdatasync`) before the reply
//!   leaves. A crash mid-line leaves a last line without its newline: never
//!   acknowledged, it is dropped when the file is loaded.
//! - **Compaction**: when the log outgrows the snapshot (at least 256 KiB), at start-up,
//!   after a reset, and after a failed write, the whole state is written as a new
//!   snapshot of the next generation, then a new empty log. A crash between the two
//!   leaves a log of the previous generation, whose changes the new snapshot already
//!   holds: it is ignored. Writing the snapshot costs as much as the state, once per
//!   log of its size: per call, a constant.
//! - **Why a log and not SQLite**: the sandbox serves from memory and only needs its
//!   changes durable; a log of the tracked maps' entries keeps the snapshot in the
//!   format it had (readable JSON) and needs no second copy of every book as tables.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::World;
use super::persist::{self, StateFileError};
use super::tokens::TokenCallCounts;
use super::tracked::ChangeLog;
use crate::ids::IdGen;

/// The `format` of a log's header line.
const LOG_FORMAT: &str = "gree-ump-sandbox-log";
const LOG_VERSION: u64 = 1;
/// The smallest log that triggers a compaction: below it, a snapshot costs little
/// whatever the log's size.
const MIN_COMPACTION_BYTES: u64 = 256 * 1024;

/// Every tracked map of the state, by the name its changes carry in the log.
fn maps(world: &mut World) -> [(&'static str, &mut dyn ChangeLog); 18] {
    [
        ("tokens.access", &mut world.tokens.access),
        ("tokens.refresh", &mut world.tokens.refresh),
        ("members.by_open_id", &mut world.members.by_open_id),
        ("members.by_phone", &mut world.members.by_phone),
        ("members.codes", &mut world.members.codes),
        ("points.changes", &mut world.points.changes),
        ("points.statements", &mut world.points.statements),
        ("points.rollbacks", &mut world.points.rollbacks),
        (
            "points.partial_rollbacks",
            &mut world.points.partial_rollbacks,
        ),
        ("points.orders", &mut world.points.orders),
        ("orders.orders", &mut world.orders.orders),
        ("orders.refunds", &mut world.orders.refunds),
        ("coupons.templates", &mut world.coupons.templates),
        (
            "coupons.template_by_third_id",
            &mut world.coupons.template_by_third_id,
        ),
        ("coupons.coupons", &mut world.coupons.coupons),
        ("coupons.by_third_code", &mut world.coupons.by_third_code),
        ("sms.phones", &mut world.sms.phones),
        ("zvcms.coupons", &mut world.zvcms.coupons),
    ]
}

/// The saved state outside the tracked maps: small, logged whole when it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counters {
    clock_offset_ms: i64,
    id_seed: u64,
    ids: IdGen,
    token_today: TokenCallCounts,
    obtain_total: u64,
    refresh_total: u64,
}

impl Counters {
    fn of(world: &World, clock_offset_ms: i64) -> Self {
        Counters {
            clock_offset_ms,
            id_seed: world.ids.seed(),
            ids: world.ids.clone(),
            token_today: world.tokens.today,
            obtain_total: world.tokens.obtain_total,
            refresh_total: world.tokens.refresh_total,
        }
    }

    fn restore(self, world: &mut World) -> i64 {
        world.ids = self.ids;
        world.ids.set_seed(self.id_seed);
        world.tokens.today = self.token_today;
        world.tokens.obtain_total = self.obtain_total;
        world.tokens.refresh_total = self.refresh_total;
        self.clock_offset_ms
    }
}

/// A log's first line.
#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u64,
    generation: u64,
}

/// One saved call's line.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// `[map, key, value]`, `value` null for a removed key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changes: Vec<(String, Value, Option<Value>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counters: Option<Counters>,
}

/// The log of a state file `path`: `path` with `.log` added.
pub(crate) fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// Applies the log beside `path` to `world`, restored from the snapshot of
/// `generation`; the clock offset its last line gives, if any. A log of another
/// generation is ignored (the snapshot holds its changes); a damaged line, other than a
/// last one cut short, stops the start with an error naming the line.
pub(crate) fn replay(
    path: &Path,
    generation: u64,
    world: &mut World,
) -> Result<Option<i64>, StateFileError> {
    let log = log_path(path);
    let problem = |problem: String| StateFileError {
        path: log.clone(),
        problem,
    };
    let bytes = match fs::read(&log) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(problem(format!("cannot be read: {e}"))),
    };
    let mut lines = bytes.split_inclusive(|b| *b == b'\n');
    let Some(head) = lines.next() else {
        return Ok(None);
    };
    let header: Header = serde_json::from_slice(head)
        .map_err(|_| problem("its first line is not a sandbox log's header".into()))?;
    if header.format != LOG_FORMAT || header.version != LOG_VERSION {
        return Err(problem(format!(
            "not a sandbox change log of version {LOG_VERSION} (its header says {:?} \
             version {})",
            header.format, header.version
        )));
    }
    if header.generation != generation {
        // From before the snapshot was written: its changes are in the snapshot.
        return Ok(None);
    }
    let mut offset = None;
    for (n, line) in lines.enumerate() {
        let number = n + 2;
        if !line.ends_with(b"\n") {
            // Cut short by a crash: never acknowledged.
            break;
        }
        let record: Record = serde_json::from_slice(line)
            .map_err(|_| problem(format!("line {number} is damaged")))?;
        let mut tracked = maps(world);
        for (name, key, value) in record.changes {
            let (_, map) = tracked
                .iter_mut()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| problem(format!("line {number} names no map of the state")))?;
            map.apply_change(key, value)
                .map_err(|why| problem(format!("line {number}: {why} ({name})")))?;
        }
        if let Some(counters) = record.counters {
            offset = Some(counters.restore(world));
        }
    }
    for (_, map) in maps(world) {
        map.forget_changes();
    }
    Ok(offset)
}

/// The state file of a running sandbox: its snapshot, and the log being appended to.
#[derive(Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
    /// Held while a save takes the changes and writes them, so that saves reach the
    /// disk in the order of their changes, and a reply waits for the write that holds
    /// its change.
    log: Mutex<Log>,
    /// The next save writes a whole snapshot (after a reset, or a failed write).
    compact: AtomicBool,
}

#[derive(Debug)]
struct Log {
    /// Appended to; `None` until the first compaction, and after a failed write.
    file: Option<File>,
    /// The generation of the snapshot, which the log's header names.
    generation: u64,
    /// The log's size, and the size at which it is compacted.
    bytes: u64,
    limit: u64,
    /// The counters as last written.
    counters: Option<Counters>,
}

impl StateFile {
    /// The state file `path`, whose snapshot (read already) is of `generation`.
    pub(crate) fn new(path: PathBuf, generation: u64) -> Self {
        StateFile {
            path,
            log: Mutex::new(Log {
                file: None,
                generation,
                bytes: 0,
                limit: 0,
                counters: None,
            }),
            compact: AtomicBool::new(true),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The next save writes the whole state (the world was replaced).
    pub(crate) fn request_compaction(&self) {
        self.compact.store(true, Ordering::SeqCst);
    }

    /// Writes what changed since the last save: a log line, or a whole snapshot when
    /// one is due. `lock` gives the world and the clock offset; it is called after this
    /// file's lock is taken, and the world's lock is released before the disk is
    /// written. A failed write is reported and the next save writes a snapshot.
    pub(crate) fn save<'w>(
        &self,
        lock: impl FnOnce() -> (MutexGuard<'w, World>, i64),
    ) -> io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let (mut world, offset) = lock();
        if self.compact.swap(false, Ordering::SeqCst)
            || log.file.is_none()
            || log.bytes >= log.limit
        {
            let generation = log.generation.wrapping_add(1);
            let snapshot = persist::encode(&world, offset, generation);
            for (_, map) in maps(&mut world) {
                map.forget_changes();
            }
            let counters = Counters::of(&world, offset);
            drop(world);
            return self
                .write_snapshot(&mut log, &snapshot, generation, counters)
                .inspect_err(|_| self.request_compaction());
        }
        let mut changes = Vec::new();
        for (name, map) in maps(&mut world) {
            for (key, value) in map.take_changes() {
                changes.push((name.to_owned(), key, value));
            }
        }
        let counters = Counters::of(&world, offset);
        drop(world);
        let changed_counters = log.counters.as_ref() != Some(&counters);
        if changes.is_empty() && !changed_counters {
            return Ok(());
        }
        let record = Record {
            changes,
            counters: changed_counters.then(|| counters.clone()),
        };
        // Plain data: encoding cannot fail.
        let mut line = serde_json::to_vec(&record).unwrap_or_default();
        line.push(b'\n');
        let written = match log.file.as_mut() {
            Some(file) => file.write_all(&line).and_then(|()| file.sync_data()),
            None => Err(io::Error::other("the log is not open")),
        };
        match written {
            Ok(()) => {
                log.bytes = log.bytes.saturating_add(line.len() as u64);
                log.counters = Some(counters);
                Ok(())
            }
            Err(e) => {
                // A line may be half written: no line may follow it. The next save
                // writes the whole state (these changes included) and a new log.
                log.file = None;
                self.request_compaction();
                Err(e)
            }
        }
    }

    /// Writes `snapshot` of `generation`, then a new empty log naming it.
    fn write_snapshot(
        &self,
        log: &mut Log,
        snapshot: &[u8],
        generation: u64,
        counters: Counters,
    ) -> io::Result<()> {
        log.file = None;
        persist::write_atomically(&self.path, snapshot)?;
        log.generation = generation;
        let mut header = serde_json::to_vec(&Header {
            format: LOG_FORMAT.to_owned(),
            version: LOG_VERSION,
            generation,
        })
        .unwrap_or_default();
        header.push(b'\n');
        let file = persist::write_atomically(&log_path(&self.path), &header)?;
        log.file = Some(file);
        log.bytes = header.len() as u64;
        log.limit = (snapshot.len() as u64).max(MIN_COMPACTION_BYTES);
        log.counters = Some(counters);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SandboxConfig;

    fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
        world.lock().unwrap()
    }

    /// Loads the state file `path` into a fresh world, as a start does.
    fn load(path: &Path) -> (World, i64) {
        let mut world = World::new(SandboxConfig::default(), 1);
        let bytes = fs::read(path).unwrap();
        let restored = persist::decode_into(path, &bytes, &mut world).unwrap();
        let offset = replay(path, restored.log_generation, &mut world)
            .unwrap()
            .unwrap_or(restored.clock_offset_ms);
        (world, offset)
    }

    /// A crash between a compaction's two writes leaves the new snapshot beside the log
    /// of the one before. That log must not be replayed: its older values would
    /// overwrite newer ones the snapshot took from changes not logged yet.
    #[test]
    fn a_log_of_an_earlier_snapshot_is_ignored() {
        let dir = std::env::temp_dir().join(format!(
            "gree-ump-sandbox-change-log-{}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let world = Mutex::new(World::new(SandboxConfig::default(), 7));
        let file = StateFile::new(path.clone(), 0);
        file.save(|| (lock(&world), 0)).unwrap();
        lock(&world)
            .members
            .by_phone
            .insert("13800000000".into(), "old".into());
        file.save(|| (lock(&world), 5)).unwrap();
        let (loaded, offset) = load(&path);
        assert_eq!(loaded.members.by_phone["13800000000"], "old", "replayed");
        assert_eq!(offset, 5, "the clock as last logged");
        let earlier_log = fs::read(log_path(&path)).unwrap();

        lock(&world)
            .members
            .by_phone
            .insert("13800000000".into(), "new".into());
        file.request_compaction();
        file.save(|| (lock(&world), 9)).unwrap();
        fs::write(log_path(&path), &earlier_log).unwrap();

        let (loaded, offset) = load(&path);
        assert_eq!(loaded.members.by_phone["13800000000"], "new");
        assert_eq!(offset, 9);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nothing_changed_writes_nothing() {
        let dir = std::env::temp_dir().join(format!(
            "gree-ump-sandbox-change-log-quiet-{}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let world = Mutex::new(World::new(SandboxConfig::default(), 7));
        let file = StateFile::new(path.clone(), 0);
        file.save(|| (lock(&world), 0)).unwrap();
        let size = fs::metadata(log_path(&path)).unwrap().len();
        for _ in 0..3 {
            file.save(|| (lock(&world), 0)).unwrap();
        }
        assert_eq!(fs::metadata(log_path(&path)).unwrap().len(), size);
        file.save(|| (lock(&world), 1)).unwrap();
        assert!(
            fs::metadata(log_path(&path)).unwrap().len() > size,
            "a moved clock is a change"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
