//! Starting and stopping a sandbox; the state its handlers share.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openplatform_runtime::clock::Clock;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::SandboxClock;
use crate::config::{SandboxConfig, TimestampScope};
use crate::conn::{ConnKill, KillableListener};
use crate::controls::Controls;
use crate::faults::FaultQueue;
use crate::state::World;
use crate::state::change_log::{self, StateFile};
use crate::state::persist::{self, StateFileError};

/// What every handler of one sandbox shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) clock: SandboxClock,
    world: Mutex<World>,
    faults: Mutex<FaultQueue>,
    /// Starts as configured; a test control changes it at run time, reset restores it.
    timestamp_scope: Mutex<TimestampScope>,
    seed: u64,
    generation: AtomicU64,
    /// Where the state is saved after every change (`--state`), if anywhere.
    state_file: Option<StateFile>,
    /// Calls refused for their verb (`SandboxConfig::verbs`), since the start.
    pub(crate) verb_refusals: AtomicU64,
    /// The last gateway calls, for the inspector (kept across resets: it is a record
    /// of what clients sent, not platform state).
    pub(crate) log: crate::inspector::log::RequestLog,
}

/// A lock that survives a panic elsewhere (the data is still consistent: every
/// operation checks before it changes anything).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        let seed = config.id_seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id())
        });
        Shared {
            clock: SandboxClock::new(config.start_time_ms),
            world: Mutex::new(World::new(config.clone(), seed)),
            faults: Mutex::new(FaultQueue::default()),
            timestamp_scope: Mutex::new(config.timestamp_scope),
            config,
            seed,
            generation: AtomicU64::new(0),
            state_file: None,
            verb_refusals: AtomicU64::new(0),
            log: crate::inspector::log::RequestLog::default(),
        }
    }

    /// A sandbox's shared state, loaded from `config.state_file` when it exists, and
    /// saved there at once (so an unwritable path fails now, not at the first call).
    pub(crate) fn open(config: SandboxConfig) -> Result<Self, StateFileError> {
        let path = config.state_file.clone();
        let mut shared = Shared::new(config);
        let Some(path) = path else {
            return Ok(shared);
        };
        let mut generation = 0;
        if let Some(bytes) = persist::read(&path)? {
            let mut world = shared.world();
            let restored = persist::decode_into(&path, &bytes, &mut world)?;
            generation = restored.log_generation;
            let offset = change_log::replay(&path, generation, &mut world)?
                .unwrap_or(restored.clock_offset_ms);
            drop(world);
            shared.clock.set_offset_ms(offset);
        }
        // Written at once, as a snapshot with a new log: an unwritable path fails now,
        // not at the first call.
        let file = StateFile::new(path, generation);
        file.save(|| (shared.world(), shared.clock.offset_ms()))
            .map_err(|e| StateFileError {
                path: file.path().to_owned(),
                problem: format!("cannot be written: {e}"),
            })?;
        shared.state_file = Some(file);
        Ok(shared)
    }

    /// Saves what changed, if the state is kept in a file. Call it after a change,
    /// without holding the world's lock. A failed save is reported on stderr (naming the
    /// file, never the content) and retried by the next one.
    pub(crate) fn save(&self) {
        if let Some(file) = &self.state_file
            && let Err(e) = file.save(|| (self.world(), self.clock.offset_ms()))
        {
            eprintln!(
                "gree-ump-sandbox: cannot save the state to {}: {e}",
                file.path().display()
            );
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultQueue> {
        lock(&self.faults)
    }

    pub(crate) fn timestamp_scope(&self) -> TimestampScope {
        *lock(&self.timestamp_scope)
    }

    pub(crate) fn set_timestamp_scope(&self, scope: TimestampScope) {
        *lock(&self.timestamp_scope) = scope;
    }

    /// Back to the state of a fresh start: empty world, no faults, clock at its start.
    /// Identifiers differ from the previous generation's, so a token from before the reset
    /// can never become valid again.
    pub(crate) fn reset(&self) {
        let generation = self
            .generation
            .fetch_add(1, Ordering::SeqCst)
            .wrapping_add(1);
        let seed = self.seed ^ generation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        *self.world() = World::new(self.config.clone(), seed);
        if let Some(file) = &self.state_file {
            // The new world has no changes to log: the next save writes it whole.
            file.request_compaction();
        }
        self.faults().clear();
        self.set_timestamp_scope(self.config.timestamp_scope);
        match self.config.start_time_ms {
            Some(start) => self.clock.set_ms(start),
            None => self
                .clock
                .set_ms(openplatform_runtime::clock::SystemClock.now_ms()),
        }
    }
}

/// Entry point: `Sandbox::start(SandboxConfig::default()).await`.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Binds 127.0.0.1 on `config.port` (0: any free port) and serves in the background
    /// of the current tokio runtime until the handle is shut down or dropped.
    pub async fn start(config: SandboxConfig) -> io::Result<SandboxHandle> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::open(config)?);
        let app = crate::http::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let serve = axum::serve(
            KillableListener::new(listener),
            app.into_make_service_with_connect_info::<ConnKill>(),
        )
        .with_graceful_shutdown(async move {
            // A dropped sender stops the server too.
            let _ = stop_rx.await;
        });
        let task = tokio::spawn(serve.into_future());
        Ok(SandboxHandle {
            addr,
            base_url: format!("http://{addr}"),
            controls: Controls::new(shared),
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running sandbox. Dropping it stops the server (in-flight calls finish).
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    base_url: String,
    controls: Controls,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT`: the base URL to give a client.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address the server listens on (127.0.0.1 and its port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of a method: `{base}/gw/gateway/{method}/v1`.
    pub fn method_url(&self, method: &str) -> String {
        format!("{}{}", self.base_url, gree_ump::PROTOCOL.path(method))
    }

    /// The app id the sandbox accepts.
    pub fn app_id(&self) -> &str {
        &self.controls.shared().config.app_id
    }

    /// The app secret signatures are checked with.
    pub fn app_secret(&self) -> &str {
        &self.controls.shared().config.app_secret
    }

    /// The test controls, in process (the same as `/__sandbox/…` over HTTP).
    pub fn control(&self) -> &Controls {
        &self.controls
    }

    /// Stops accepting, lets in-flight calls finish (at most 5 s), and waits; with a
    /// state file, saves once more (every change is saved already).
    pub async fn shutdown(mut self) {
        // Open inspector pages hang up, or the graceful shutdown would wait for them.
        self.controls.shared().log.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        self.controls.shared().save();
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.controls.shared().log.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
