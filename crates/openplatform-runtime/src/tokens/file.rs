//! The file token store: token state in a private directory, shared by the processes of
//! one host.
//!
//! Layout, per app id (the id is encoded into a safe file name, see
//! [`FileTokenStore::record_path`]):
//!
//! | file | holds | written |
//! | --- | --- | --- |
//! | `app-<id>.json` | the [`TokenRecord`] (the tokens: owner-only, `0o600`) | atomically, under the OS lock |
//! | `app-<id>.lock` | nothing: the OS file lock that serializes writers | never |
//! | `app-<id>.lease.json` | the refresh lock: owner and lease expiry | atomically, under the OS lock |
//! | `app-<id>.budget.json` | the day's count of token calls, per kind | atomically, under the OS lock |
//! | `app-<id>.note-<name>` | a note of the manager's (the pending-obtain marker; no secret) | atomically, under the OS lock |
//!
//! Every write goes to a temporary file in the same directory (created `0o600`), is
//! fsynced, renamed over the target, and the directory is fsynced: a reader — or a
//! process that was killed mid-write — sees the old file or the new one, never a part.
//! Readers take no lock. The directory is created `0o700`.
//!
//! No file is opened through a symlink (`O_NOFOLLOW`), and temporary files are created
//! exclusively (`O_EXCL`) under an unpredictable name: a link planted in the directory is
//! an error naming it, never a way to read or write another file. A directory that
//! other users can write (group or others write bit, sticky or not), or that another
//! user owns, is refused unless the user opts in
//! ([`FileTokenStoreBuilder::allow_shared_directory`]): whoever can write there can plant
//! the store's file names before it does, a record of their own tokens among them.
//!
//! The OS lock is `flock` on Unix (`LockFileEx` on Windows): it serializes the processes
//! of one host. On network file systems its guarantees are those of the file system;
//! for several hosts use a Redis store.

use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{
    BudgetKind, BudgetTake, StoreError, StoreErrorKind, StoreFuture, TokenRecord, TokenStore,
};

/// The largest file the store writes, and so the largest it reads (a larger one is
/// damaged, or not ours, and is not read into memory whole). The limit is checked before
/// a write, never only at the read: a limit on reading alone once let the store write a
/// record (tokens of 40,000 characters: 80 KB) that it then refused to read, so every
/// other process and every restart reported a damaged store. Two tokens of 40,000
/// characters at their most expensive to escape in JSON (six bytes each) take 480 KB.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// File names stay well under the usual 255-byte limit with every suffix added.
const MAX_STEM_BYTES: usize = 200;
/// Layout version of the lease and budget files.
const SIDE_FORMAT: u32 = 1;
/// Budget days kept in the budget file (older ones are never asked again).
const BUDGET_DAYS_KEPT: usize = 4;

/// Token state in files in one directory: survives restarts, shared by the processes of
/// one host. Clones share the directory.
///
/// ```no_run
/// # fn main() -> Result<(), openplatform_runtime::tokens::StoreError> {
/// use openplatform_runtime::tokens::FileTokenStore;
/// let store = FileTokenStore::new("/var/lib/my-mall/ump-tokens")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FileTokenStore {
    dir: Arc<PathBuf>,
}

impl fmt::Debug for FileTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileTokenStore")
            .field("dir", &self.dir)
            .finish()
    }
}

impl FileTokenStore {
    /// A store in directory `dir`, created (with its parents) owner-only (`0o700`) if it
    /// does not exist. An existing directory that other users can write, or that another
    /// user owns, is refused with an error naming it and the fix (see
    /// [`FileTokenStore::builder`] to opt in); one they can only read is used, with a
    /// warning (the files themselves are owner-only).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::builder(dir).open()
    }

    /// Options for a store in `dir`, opened with [`FileTokenStoreBuilder::open`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), openplatform_runtime::tokens::StoreError> {
    /// use openplatform_runtime::tokens::FileTokenStore;
    /// // A directory the group must be able to write, by decision.
    /// let store = FileTokenStore::builder("/srv/shared/ump-tokens")
    ///     .allow_shared_directory(true)
    ///     .open()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(dir: impl Into<PathBuf>) -> FileTokenStoreBuilder {
        FileTokenStoreBuilder {
            dir: dir.into(),
            allow_shared_directory: false,
        }
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the record of app `key`: `app-<id>.json`, where ASCII lowercase
    /// letters, digits, `-` and `_` of the id stay as they are and every other byte
    /// becomes `%XX` (so distinct ids never share a file, even on case-insensitive file
    /// systems). An id longer than the file system allows is an error.
    pub fn record_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self.paths(key)?.record)
    }

    fn paths(&self, key: &str) -> Result<Paths, StoreError> {
        let stem = file_stem(key)?;
        let dir = self.dir.as_ref().clone();
        Ok(Paths {
            record: dir.join(format!("{stem}.json")),
            lock: dir.join(format!("{stem}.lock")),
            lease: dir.join(format!("{stem}.lease.json")),
            budget: dir.join(format!("{stem}.budget.json")),
            stem,
            dir,
        })
    }
}

/// How a [`FileTokenStore`] is opened: [`FileTokenStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct FileTokenStoreBuilder {
    dir: PathBuf,
    allow_shared_directory: bool,
}

impl FileTokenStoreBuilder {
    /// Accepts a directory that other users can write, or that another user owns
    /// (default: refused). Only for a directory shared by decision, among users who are
    /// all trusted with the tokens: any of them can plant a record of their choosing, or
    /// a file that blocks the store. Links planted there are still never followed.
    pub fn allow_shared_directory(mut self, allow: bool) -> Self {
        self.allow_shared_directory = allow;
        self
    }

    /// Creates the directory if needed (owner-only, `0o700`), checks it and opens the
    /// store. An error names the directory and what to do.
    pub fn open(self) -> Result<FileTokenStore, StoreError> {
        let dir = self.dir;
        create_private_dir(&dir).map_err(|e| {
            StoreError::io(format!("cannot create directory {}: {e}", dir.display()))
        })?;
        let meta = fs::metadata(&dir)
            .map_err(|e| StoreError::io(format!("cannot read {}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(StoreError::backend(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        #[cfg(unix)]
        check_directory(&dir, &meta, self.allow_shared_directory)?;
        Ok(FileTokenStore { dir: Arc::new(dir) })
    }
}

/// Refuses a directory that others can write or that another user owns (unless
/// `allow_shared`), and warns about one they can read.
#[cfg(unix)]
fn check_directory(dir: &Path, meta: &fs::Metadata, allow_shared: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = meta.uid();
    let problem = if mode & 0o022 != 0 {
        // Sticky or not: the sticky bit keeps others from removing our files, not from
        // creating the names we have not created yet (a record, the lock file).
        Some(format!(
            "is writable by other users (mode {mode:04o}): any of them can plant the \
             store's files there (a record of their tokens, a file that blocks the store). \
             Fix: `chmod go-w {}`, or choose a new path (the store creates it 0700)",
            dir.display()
        ))
    } else if owner != me && owner != 0 {
        Some(format!(
            "is owned by another user (uid {owner}), who can change its permissions and \
             write in it. Fix: `chown` it to this user (uid {me}), or choose a new path (the \
             store creates it 0700)"
        ))
    } else {
        None
    };
    match problem {
        Some(problem) if !allow_shared => Err(StoreError::backend(format!(
            "token store directory {} {problem}; or, if it is shared by decision, opt in \
             with allow_shared_directory(true)",
            dir.display()
        ))),
        Some(problem) => {
            tracing::warn!(
                dir = %dir.display(),
                "token store directory {problem}; accepted (allow_shared_directory)"
            );
            Ok(())
        }
        None => {
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format_args!("{mode:o}"),
                    "token store directory is readable by other users; its files are owner-only, but consider chmod 700"
                );
            }
            Ok(())
        }
    }
}

/// The files of one app id.
struct Paths {
    dir: PathBuf,
    record: PathBuf,
    lock: PathBuf,
    lease: PathBuf,
    budget: PathBuf,
    stem: String,
}

impl Paths {
    /// The file of note `name`; names are short words of `[a-z0-9-]`.
    fn note(&self, name: &str) -> Result<PathBuf, StoreError> {
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(StoreError::backend(format!(
                "note name {name:?} is not a short word of a-z, 0-9 and -"
            )));
        }
        Ok(self.dir.join(format!("{}.note-{name}", self.stem)))
    }
}

fn file_stem(key: &str) -> Result<String, StoreError> {
    let mut stem = String::with_capacity(4 + key.len());
    stem.push_str("app-");
    for b in key.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => stem.push(char::from(b)),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(stem, "%{b:02X}");
            }
        }
    }
    if stem.len() > MAX_STEM_BYTES {
        return Err(StoreError::backend(format!(
            "app id of {} bytes is too long for a file name",
            key.len()
        )));
    }
    Ok(stem)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).create(dir)
}

/// Options for a new file only its owner may read and write, never opened through a
/// symlink.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

fn io_error(action: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::io(format!("cannot {action} {}: {e}", path.display()))
}

/// The error for a failed open of `path`: a symlink found there is named as such (the
/// open refused to follow it), an error of `kind`; anything else as the I/O error it is.
fn open_error(action: &str, path: &Path, e: &io::Error, kind: StoreErrorKind) -> StoreError {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => StoreError::new(
            kind,
            format!(
                "{} is a symbolic link, which the token store never follows; remove it if you \
             did not put it there, and check who else can write {}",
                path.display(),
                path.parent().unwrap_or(path).display()
            ),
        ),
        _ => io_error(action, path, e),
    }
}

/// Checks that an opened file is a regular file (not a FIFO, device or directory planted
/// at the name, which are never ours).
fn regular(file: File, path: &Path) -> Result<File, StoreError> {
    let meta = file.metadata().map_err(|e| io_error("inspect", path, &e))?;
    if meta.is_file() {
        Ok(file)
    } else {
        Err(StoreError::corrupt(format!(
            "{}: is not a regular file",
            path.display()
        )))
    }
}

/// Runs blocking file work off the async executor when there is a Tokio runtime, and in
/// place otherwise.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| StoreError::io(format!("file store worker failed: {e}")))?,
        Err(_) => work(),
    }
}

/// The OS lock on an app's lock file, released when dropped (the file is closed).
struct OsLock {
    _file: File,
}

fn os_lock(path: &Path) -> Result<OsLock, StoreError> {
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| open_error("open lock file", path, &e, StoreErrorKind::Backend))?;
    let file = regular(file, path)?;
    file.lock().map_err(|e| {
        if e.kind() == io::ErrorKind::Unsupported {
            StoreError::backend(format!(
                "file locks are not supported for {}: {e}",
                path.display()
            ))
        } else {
            io_error("lock", path, &e)
        }
    })?;
    Ok(OsLock { _file: file })
}

/// The whole file, or `None` when it does not exist.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    // Only a regular file is read, and never through a symlink: a FIFO planted at the
    // path would block a plain open forever (hence O_NONBLOCK, then the type check), and
    // a link, device or directory is not ours either.
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(StoreError::corrupt(format!(
                "{}: is not a regular file",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("inspect", path, &e)),
    }
    let file = match options.open(path) {
        Ok(file) => regular(file, path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // Unreadable like a damaged record: no token call until a person looked.
        Err(e) => return Err(open_error("open", path, &e, StoreErrorKind::Corrupt)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("read", path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::corrupt(format!(
            "{}: file is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        )));
    }
    Ok(Some(bytes))
}

/// Replaces `target` with `bytes` so that no reader and no crash ever sees a part: a
/// private temporary file in the same directory, fsynced, renamed over, directory fsynced.
///
/// The temporary file is created exclusively (`O_EXCL`: a symlink or file at its name is
/// never followed nor truncated), owner-only, under a name no other user can predict
/// (so none can take it first). Callers hold the OS lock, so any temporary file of this
/// target already there is a killed writer's (or planted): it is removed first.
fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    // What is written must be readable: a file the read would refuse is refused here,
    // before anything is replaced.
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::backend(format!(
            "cannot write {}: {} bytes is more than the file store keeps ({MAX_FILE_BYTES} bytes); \
             nothing was written",
            target.display(),
            bytes.len()
        )));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    remove_stale_temporaries(dir, &prefix);
    let (temp, mut file) = create_temporary(dir, &prefix)?;
    let result = (|| {
        file.write_all(bytes)
            .map_err(|e| io_error("write", &temp, &e))?;
        file.sync_all().map_err(|e| io_error("sync", &temp, &e))?;
        drop(file);
        fs::rename(&temp, target).map_err(|e| io_error("replace", target, &e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(dir)
}

/// Creates `<prefix><random>.tmp` in `dir` exclusively, owner-only.
fn create_temporary(dir: &Path, prefix: &str) -> Result<(PathBuf, File), StoreError> {
    let mut last = None;
    // A taken name is another writer's file or a planted one: another random name.
    for _ in 0..8 {
        let temp = dir.join(format!("{prefix}{:016x}.tmp", unpredictable()));
        match private_options().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((temp, e)),
            Err(e) => return Err(io_error("create", &temp, &e)),
        }
    }
    let (temp, e) = last.unwrap_or_else(|| (dir.to_owned(), io::ErrorKind::AlreadyExists.into()));
    Err(io_error("create a temporary file like", &temp, &e))
}

/// Removes the temporary files a killed writer left (`<prefix>*.tmp`; the old fixed
/// `<prefix>tmp` too). Best effort: one that cannot be removed only takes room. Removing
/// a symlink removes the link, never its target.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// 64 bits no other user can predict, for temporary file names: std's `RandomState`
/// draws its SipHash keys from the OS's random source, and the counter, time and
/// process id make each name differ from the last.
fn unpredictable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(d.as_nanos());
    }
    hasher.finish()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync directory", dir, &e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    // Directories cannot be opened for syncing here; the rename itself is atomic.
    Ok(())
}

/// Decodes a stored record, naming `origin` (a file, a Redis key) in the error and keeping
/// any text of the stored bytes out of it: serde's messages quote the strings they
/// reject (`invalid type: string "…"`, ``unknown field `…` ``), and in a damaged record
/// such a string can be a token.
pub(super) fn decode_record(
    bytes: &[u8],
    origin: &dyn fmt::Display,
) -> Result<TokenRecord, StoreError> {
    TokenRecord::from_json(bytes).map_err(|e| {
        StoreError::new(
            e.kind(),
            format!("{origin}: {}", redact_quoted(e.message())),
        )
    })
}

/// Field names the record format has: quoting them in an error text reveals nothing.
const RECORD_FIELDS: [&str; 6] = [
    "format",
    "version",
    "access_token",
    "access_expires_at_ms",
    "refresh_token",
    "refresh_expires_at_ms",
];

/// Replaces the content of every `"…"` and of every `` `…` `` (except a record field
/// name or a bit of JSON punctuation) with `…`.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        // A string quoted by Debug escapes its inner quotes as \".
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote == '"' {
                escaped = true;
            } else if c == quote {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            // An unterminated quote: drop the rest.
            out.push('…');
            return out;
        };
        let inner = &after[..end];
        let keep = quote == '`' && (inner.chars().count() <= 2 || RECORD_FIELDS.contains(&inner));
        if keep {
            out.push_str(inner);
        } else {
            out.push('…');
        }
        out.push(quote);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn load_record(path: &Path) -> Result<Option<TokenRecord>, StoreError> {
    match read_file(path)? {
        None => Ok(None),
        Some(bytes) => decode_record(&bytes, &path.display()).map(Some),
    }
}

/// The refresh lock, as the lease file holds it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lease {
    format: u32,
    owner: String,
    /// Wall-clock ms since the Unix epoch.
    expires_at_ms: i64,
}

/// The day's token-call counts, as the budget file holds them.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Budgets {
    format: u32,
    /// Platform day (days since 1970-01-01 in the platform's zone) → counts.
    days: std::collections::BTreeMap<i64, DayCounts>,
}

#[derive(Serialize, Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct DayCounts {
    #[serde(default)]
    obtain: u32,
    #[serde(default)]
    refresh: u32,
}

impl DayCounts {
    fn get_mut(&mut self, kind: BudgetKind) -> &mut u32 {
        match kind {
            BudgetKind::Obtain => &mut self.obtain,
            BudgetKind::Refresh => &mut self.refresh,
        }
    }

    fn get(self, kind: BudgetKind) -> u32 {
        match kind {
            BudgetKind::Obtain => self.obtain,
            BudgetKind::Refresh => self.refresh,
        }
    }
}

/// Reads a lease or budget file (they hold no secret, so serde's text may be shown).
fn read_side<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StoreError> {
    let Some(bytes) = read_file(path)? else {
        return Ok(None);
    };
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let format: Format = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::corrupt(format!("{}: not valid: {e}", path.display())))?;
    if format.format != SIDE_FORMAT {
        return Err(StoreError::corrupt(format!(
            "{}: has format {}, this version reads format {SIDE_FORMAT}",
            path.display(),
            format.format
        )));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::corrupt(format!("{}: not valid: {e}", path.display())))
}

fn write_side<T: Serialize>(dir: &Path, path: &Path, value: &T) -> Result<(), StoreError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| StoreError::backend(format!("cannot encode {}: {e}", path.display())))?;
    write_atomic(dir, path, &json)
}

fn wall_clock_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn compare_and_set_blocking(
    paths: &Paths,
    expected: Option<u64>,
    record: &TokenRecord,
) -> Result<bool, StoreError> {
    let _lock = os_lock(&paths.lock)?;
    let current = load_record(&paths.record)?.map(|r| r.version);
    if current != expected {
        return Ok(false);
    }
    write_atomic(&paths.dir, &paths.record, record.to_json().as_bytes())?;
    Ok(true)
}

fn try_lock_blocking(paths: &Paths, owner: &str, lease: Duration) -> Result<bool, StoreError> {
    let _lock = os_lock(&paths.lock)?;
    let now = wall_clock_ms();
    if let Some(held) = read_side::<Lease>(&paths.lease)?
        && held.expires_at_ms > now
    {
        return Ok(false);
    }
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let lease = Lease {
        format: SIDE_FORMAT,
        owner: owner.to_owned(),
        expires_at_ms: now.saturating_add(lease_ms),
    };
    write_side(&paths.dir, &paths.lease, &lease)?;
    Ok(true)
}

fn unlock_blocking(paths: &Paths, owner: &str) -> Result<(), StoreError> {
    let _lock = os_lock(&paths.lock)?;
    if let Some(held) = read_side::<Lease>(&paths.lease)?
        && held.owner == owner
    {
        match fs::remove_file(&paths.lease) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &paths.lease, &e)),
        }
    }
    Ok(())
}

fn take_budget_blocking(
    paths: &Paths,
    kind: BudgetKind,
    day: i64,
    limit: u32,
) -> Result<BudgetTake, StoreError> {
    let _lock = os_lock(&paths.lock)?;
    let mut budgets = read_side::<Budgets>(&paths.budget)?.unwrap_or_default();
    budgets.format = SIDE_FORMAT;
    let counts = budgets.days.entry(day).or_default();
    let used = counts.get_mut(kind);
    if *used >= limit {
        return Ok(BudgetTake::Exhausted { used: *used });
    }
    *used += 1;
    let used = *used;
    // Keep the latest days only (a day is never asked again once it is over), and
    // always the day just counted.
    while budgets.days.len() > BUDGET_DAYS_KEPT {
        let Some(oldest) = budgets.days.keys().copied().find(|d| *d != day) else {
            break;
        };
        budgets.days.remove(&oldest);
    }
    write_side(&paths.dir, &paths.budget, &budgets)?;
    Ok(BudgetTake::Granted { used })
}

fn renew_lock_blocking(paths: &Paths, owner: &str, lease: Duration) -> Result<bool, StoreError> {
    let _lock = os_lock(&paths.lock)?;
    let now = wall_clock_ms();
    match read_side::<Lease>(&paths.lease)? {
        Some(held) if held.owner == owner && held.expires_at_ms > now => {
            let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
            let renewed = Lease {
                expires_at_ms: now.saturating_add(lease_ms),
                ..held
            };
            write_side(&paths.dir, &paths.lease, &renewed)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn give_back_budget_blocking(paths: &Paths, kind: BudgetKind, day: i64) -> Result<(), StoreError> {
    let _lock = os_lock(&paths.lock)?;
    let Some(mut budgets) = read_side::<Budgets>(&paths.budget)? else {
        return Ok(());
    };
    let Some(counts) = budgets.days.get_mut(&day) else {
        return Ok(());
    };
    let used = counts.get_mut(kind);
    if *used == 0 {
        return Ok(());
    }
    *used -= 1;
    write_side(&paths.dir, &paths.budget, &budgets)
}

fn load_note_blocking(paths: &Paths, name: &str) -> Result<Option<String>, StoreError> {
    let path = paths.note(name)?;
    match read_file(&path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::corrupt(format!("{}: is not UTF-8", path.display()))),
    }
}

fn store_note_blocking(paths: &Paths, name: &str, value: Option<&str>) -> Result<(), StoreError> {
    let path = paths.note(name)?;
    let _lock = os_lock(&paths.lock)?;
    match value {
        Some(text) => write_atomic(&paths.dir, &path, text.as_bytes()),
        None => match fs::remove_file(&path) {
            Ok(()) => sync_dir(&paths.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path, &e)),
        },
    }
}

fn budget_used_blocking(paths: &Paths, kind: BudgetKind, day: i64) -> Result<u32, StoreError> {
    let budgets = read_side::<Budgets>(&paths.budget)?.unwrap_or_default();
    Ok(budgets.days.get(&day).map_or(0, |c| c.get(kind)))
}

impl TokenStore for FileTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        let paths = self.paths(key);
        Box::pin(async move {
            let paths = paths?;
            blocking(move || load_record(&paths.record)).await
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        let paths = self.paths(key);
        let record = record.clone();
        Box::pin(async move {
            let paths = paths?;
            blocking(move || compare_and_set_blocking(&paths, expected, &record)).await
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let paths = self.paths(key);
        let owner = owner.to_owned();
        Box::pin(async move {
            let paths = paths?;
            blocking(move || try_lock_blocking(&paths, &owner, lease)).await
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        let paths = self.paths(key);
        let owner = owner.to_owned();
        Box::pin(async move {
            let paths = paths?;
            blocking(move || unlock_blocking(&paths, &owner)).await
        })
    }

    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, BudgetTake> {
        let paths = self.paths(key);
        Box::pin(async move {
            let paths = paths?;
            blocking(move || take_budget_blocking(&paths, kind, day, limit)).await
        })
    }

    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        let paths = self.paths(key);
        Box::pin(async move {
            let paths = paths?;
            blocking(move || budget_used_blocking(&paths, kind, day)).await
        })
    }

    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        let paths = self.paths(key);
        Box::pin(async move {
            let paths = paths?;
            blocking(move || give_back_budget_blocking(&paths, kind, day)).await
        })
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let paths = self.paths(key);
        let owner = owner.to_owned();
        Box::pin(async move {
            let paths = paths?;
            blocking(move || renew_lock_blocking(&paths, &owner, lease)).await
        })
    }

    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        let paths = self.paths(key);
        let name = name.to_owned();
        Box::pin(async move {
            let paths = paths?;
            blocking(move || load_note_blocking(&paths, &name)).await
        })
    }

    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        let paths = self.paths(key);
        let name = name.to_owned();
        let value = value.map(str::to_owned);
        Box::pin(async move {
            let paths = paths?;
            blocking(move || store_note_blocking(&paths, &name, value.as_deref())).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(
            file_stem("wkb1ag2hdad7e6jw1r").unwrap(),
            "app-wkb1ag2hdad7e6jw1r"
        );
        assert_eq!(file_stem("").unwrap(), "app-");
        assert_eq!(file_stem("../x").unwrap(), "app-%2E%2E%2Fx");
        assert_eq!(file_stem("A").unwrap(), "app-%41");
        assert_ne!(file_stem("a%41").unwrap(), file_stem("aA").unwrap());
        assert_eq!(file_stem("é").unwrap(), "app-%C3%A9");
        assert!(file_stem(&"x".repeat(196)).is_ok());
        assert!(file_stem(&"x".repeat(197)).is_err());
    }

    #[test]
    fn quoted_text_is_redacted() {
        assert_eq!(
            redact_quoted(
                "token record is not valid: invalid type: string \"at-se\\\"cret\", expected u64 at line 1 column 33"
            ),
            "token record is not valid: invalid type: string \"…\", expected u64 at line 1 column 33"
        );
        assert_eq!(
            redact_quoted(
                "unknown field `at-secret`, expected `format` or `version`; expected `:`"
            ),
            "unknown field `…`, expected `format` or `version`; expected `:`"
        );
        assert_eq!(redact_quoted("a \"dangling"), "a \"…");
        assert_eq!(redact_quoted("no quotes"), "no quotes");
    }
}
