//! The durable write journal: submit a write, get a receipt once it is recorded, and let
//! the journal apply it exactly once, whatever the network, the platform and the process
//! do meanwhile.
//!
//! ```no_run
//! # async fn f(client: gree_ump::Client, store: std::sync::Arc<dyn gree_ump::runtime::journal::JournalStore>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest};
//! use gree_ump::journal::{Journal, Outcome};
//!
//! let journal = Journal::new(client, store);
//! let _drainer = journal.start(); // settles entries in the background until dropped
//! let receipt = journal
//!     .submit(&ChangePointsRequest::new(ChangePointsArgs {
//!         open_id: "2r3452143".into(),
//!         score: -10,
//!         out_biz_no: "sale-7781".into(),
//!         change_reason: "积分抵扣".into(),
//!         change_event: "event_subtract".into(),
//!         change_id: "sale-7781-points".into(),
//!     }))
//!     .await?; // durably recorded: the till can answer the customer
//! match receipt.outcome().timeout(Duration::from_secs(1)).await? {
//!     Outcome::Applied { .. } => println!("points taken"),
//!     Outcome::Refused { code, .. } => println!("refused: {code:?}"),
//!     Outcome::Pending { .. } => println!("recorded; the journal keeps trying"),
//!     Outcome::Attention { error } => println!("an operator must look: {error}"),
//! }
//! # Ok(()) }
//! ```
//!
//! The journal's rules (states, leases, fencing, ordering, settle paths) are the
//! runtime's ([`openplatform_runtime::journal`]); this module adds the vendor knowledge:
//! which requests are writes (the spec's `journal` of each endpoint, errata E88), how a
//! stored request is sent again (decoded by the generated route table, sent by the typed
//! client), and the two probes: 3.1 by a 3.2 query of the phone, 5.2 by a 5.5 listing of
//! each member's coupons.
//!
//! A request is stored exactly as it will be sent, every time: build dates, times and
//! keys (`consume_date`, `verification_time`, `change_id`) once, at the sale, never from
//! the clock per attempt. Writes that name the same member (as the same open id or
//! phone), order, coupon template or coupon are sent in the order they were submitted.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openplatform_runtime::clock::{Clock, SystemClock};
use openplatform_runtime::journal::{
    AttemptAnswer, Dispatch, DispatchFuture, DrainPolicy, Drainer, Entry, EntryId, JournalError,
    JournalStore, NewEntry, Pass, ProbeAnswer, Status,
};
use openplatform_runtime::wire::Tolerant;
use openplatform_runtime::{CallOptions, JournalInfo, RetryPolicy};
use serde::Serialize;

use crate::endpoints::*;
use crate::generated::routes::AnyRequest;
use crate::{Client, Endpoint, ErrorCode, RequestError};

/// A write the journal takes: every endpoint whose spec has a `journal` entry.
pub trait JournalWrite: Endpoint<Code = ErrorCode> + Serialize + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

/// Each journalled write, the `AnyRequest` variant it decodes to, and how it is sent.
macro_rules! journal_writes {
    ($($variant:ident($t:ty)),* $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            impl JournalWrite for $t {}
        )*

        /// Sends a decoded stored request once.
        async fn send_decoded(client: &Client, request: &AnyRequest, timeout: Duration) -> Option<AttemptAnswer> {
            match request {
                $(AnyRequest::$variant(r) => Some(send_once(client, r, timeout).await),)*
                _ => None,
            }
        }

        /// The body a decoded request serializes to.
        fn any_body(request: &AnyRequest) -> Option<String> {
            match request {
                $(AnyRequest::$variant(r) => serde_json::to_string(r).ok(),)*
                _ => None,
            }
        }

        /// The methods this module journals.
        pub(crate) const JOURNALLED: &[&str] = &[$(<$t as Endpoint>::INFO.method),*];

        /// Decodes `body` as the request of journalled write `method`: `None` when no
        /// journalled write has that method.
        fn decode_write(method: &str, body: &str) -> Option<Result<DecodedWrite, SubmitError>> {
            $(
                if method == <$t as Endpoint>::INFO.method {
                    return Some(decode_one::<$t>(body));
                }
            )*
            None
        }

        /// A decoded write as the journal records it, checked as its typed request is.
        fn decoded_entry(journal: &Journal, write: &DecodedWrite) -> Result<NewEntry, SubmitError> {
            $(
                if write.method == <$t as Endpoint>::INFO.method {
                    let request: $t = serde_json::from_str(&write.body).map_err(|e| undecodable(write.method, "", &e))?;
                    return journal.new_entry(&request);
                }
            )*
            Err(SubmitError::NotAWrite { method: write.method.to_owned() })
        }
    };
}

/// A write decoded from JSON ([`DecodedWrite::decode`]): its method, and its body as the
/// journal stores it (what identifies it: the same request decodes to the same body).
#[derive(Clone)]
pub struct DecodedWrite {
    method: &'static str,
    body: String,
}

/// The method only: the body holds personal data.
impl fmt::Debug for DecodedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedWrite")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl DecodedWrite {
    /// Decodes `body` (a JSON object of the request's wire fields, as the document names
    /// them) as the request of the write endpoint `method` (`wk.user.info.add`…), and
    /// checks it as a direct call would. For tools that read writes from files (`ump
    /// import`); code that builds requests submits them typed.
    ///
    /// Refused: a method that is not a journalled write ([`SubmitError::NotAWrite`]), a
    /// body that does not decode ([`SubmitError::Undecodable`], naming the field and
    /// never the value), an invalid request ([`SubmitError::Invalid`]).
    pub fn decode(method: &str, body: &str) -> Result<DecodedWrite, SubmitError> {
        decode_write(method, body).unwrap_or_else(|| {
            Err(SubmitError::NotAWrite {
                method: method.chars().take(80).collect(),
            })
        })
    }

    /// The endpoint's method.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The body as the journal stores it and every attempt sends it.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// Decodes and checks one typed request; the body it serializes to.
fn decode_one<E: JournalWrite + serde::de::DeserializeOwned>(
    body: &str,
) -> Result<DecodedWrite, SubmitError> {
    let method = E::INFO.method;
    let mut de = serde_json::Deserializer::from_str(body);
    let request: E = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        undecodable(method, &path, e.inner())
    })?;
    de.end().map_err(|e| undecodable(method, "", &e))?;
    request.validate().map_err(SubmitError::Invalid)?;
    let body = serde_json::to_string(&request).map_err(|e| undecodable(method, "", &e))?;
    Ok(DecodedWrite { method, body })
}

/// A decoder's failure at `path`, its message without the values it may quote.
fn undecodable(method: &'static str, path: &str, e: &serde_json::Error) -> SubmitError {
    let at = if path.is_empty() || path == "." {
        "the request".to_owned()
    } else {
        format!("`{path}`")
    };
    SubmitError::Undecodable {
        method,
        reason: format!(
            "{at}: {}",
            openplatform_runtime::error::without_values(&e.to_string())
        ),
    }
}

journal_writes!(
    CreateMember(CreateMemberRequest),
    ChangePoints(ChangePointsRequest),
    RollbackPoints(RollbackPointsRequest),
    RollbackPointsPartially(RollbackPointsPartiallyRequest),
    AddOrder(AddOrderRequest),
    RefundOrder(RefundOrderRequest),
    RefundOrderPartially(RefundOrderPartiallyRequest),
    AddCouponTemplate(AddCouponTemplateRequest),
    GiveCoupons(GiveCouponsRequest),
    SyncCouponStatus(SyncCouponStatusRequest),
    VerifyCoupons(VerifyCouponsRequest),
    SendSmsCode(SendSmsCodeRequest),
);

/// One attempt of a typed request: no retries of the client's own (the journal decides
/// every repeat), within `timeout`.
async fn send_once<E>(client: &Client, request: &E, timeout: Duration) -> AttemptAnswer
where
    E: Endpoint<Code = ErrorCode>,
    E::Data: Serialize,
{
    let options = CallOptions::default()
        .retry(RetryPolicy::NONE)
        .timeout(timeout);
    let result = client.runtime().send_with(request, options).await;
    match &result {
        Ok(reply) => AttemptAnswer::of::<ErrorCode>(Ok(reply
            .data
            .as_ref()
            .and_then(|d| serde_json::to_string(d).ok()))),
        Err(e) => AttemptAnswer::of(Err(e)),
    }
}

/// Why a write could not be recorded. Nothing was recorded, nothing was sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum SubmitError {
    /// The request breaks the spec's rules (the same checks as a direct call).
    Invalid(RequestError),
    /// The request does not survive being stored: read back, it is not byte for byte
    /// what was submitted (a bug of this SDK; the write would not be re-sent identical).
    NotReplayable {
        /// The endpoint's method.
        method: &'static str,
    },
    /// The journal's store failed.
    Store(JournalError),
    /// [`DecodedWrite::decode`]: no journalled write has this method.
    NotAWrite {
        /// The method given (at most 80 characters of it).
        method: String,
    },
    /// [`DecodedWrite::decode`]: the body is not the endpoint's request.
    Undecodable {
        /// The endpoint's method.
        method: &'static str,
        /// Where and what (the field's path; never its value).
        reason: String,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Invalid(e) => write!(f, "the write is invalid: {e}"),
            SubmitError::NotReplayable { method } => write!(
                f,
                "{method}: the request does not read back as submitted, so it could not be \
                 re-sent identical; it was not recorded"
            ),
            SubmitError::Store(e) => write!(f, "the journal could not record the write: {e}"),
            SubmitError::NotAWrite { method } => write!(
                f,
                "{method:?} is not a write the journal takes (one of: {})",
                JOURNALLED.join(", ")
            ),
            SubmitError::Undecodable { method, reason } => {
                write!(f, "not a {method} request: {reason}")
            }
        }
    }
}

impl std::error::Error for SubmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SubmitError::Invalid(e) => Some(e),
            SubmitError::Store(e) => Some(e),
            SubmitError::NotReplayable { .. }
            | SubmitError::NotAWrite { .. }
            | SubmitError::Undecodable { .. } => None,
        }
    }
}

/// The journal of one client's writes, on one store. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn JournalStore>,
    drainer: Arc<Drainer>,
    clock: Arc<dyn Clock>,
    /// How often a receipt waiting for another process's drainer looks again.
    poll: Duration,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// How a [`Journal`] is set up: [`Journal::builder`].
#[derive(Debug)]
pub struct JournalBuilder {
    client: Client,
    store: Arc<dyn JournalStore>,
    policy: DrainPolicy,
    clock: Arc<dyn Clock>,
}

impl JournalBuilder {
    /// The drainer's timings and bounds (defaults: [`DrainPolicy::default`]).
    pub fn policy(mut self, policy: DrainPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The journal's clock (leases, due times): the system's by default; tests pass a
    /// manual one.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The journal.
    pub fn build(self) -> Journal {
        let dispatch = Arc::new(UmpDispatch {
            client: self.client,
        });
        let poll = self.policy.idle_poll;
        let drainer = Drainer::new(
            self.store.clone(),
            dispatch,
            self.clock.clone(),
            self.policy,
        );
        Journal {
            inner: Arc::new(Inner {
                store: self.store,
                drainer: Arc::new(drainer),
                clock: self.clock,
                poll,
            }),
        }
    }
}

impl Journal {
    /// A journal of `client`'s writes on `store`, with the default policy.
    pub fn new(client: Client, store: Arc<dyn JournalStore>) -> Journal {
        Journal::builder(client, store).build()
    }

    /// A journal to configure.
    pub fn builder(client: Client, store: Arc<dyn JournalStore>) -> JournalBuilder {
        JournalBuilder {
            client,
            store,
            policy: DrainPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn JournalStore> {
        &self.inner.store
    }

    /// Records `request` durably and returns its receipt: from then on the journal owns
    /// the write, and a drainer (this process's after [`Journal::start`], or any other
    /// process's on the same store) applies it exactly once. Checks the request as a
    /// direct call does; sends nothing itself.
    pub async fn submit<E: JournalWrite>(&self, request: &E) -> Result<Receipt<E>, SubmitError> {
        let entry = self.new_entry(request)?;
        let entry = self
            .inner
            .store
            .append(entry)
            .await
            .map_err(SubmitError::Store)?;
        self.inner.drainer.work().notify_one();
        Ok(Receipt {
            id: entry.id,
            journal: self.clone(),
            _write: PhantomData,
        })
    }

    /// Records writes decoded from JSON ([`DecodedWrite::decode`]) as [`Journal::submit`]
    /// records typed ones, in one commit where the store can (all or none): their entries'
    /// ids, ascending in the order given, so writes to one member keep their order. A
    /// bulk import records a batch with one fsync rather than one per write.
    pub async fn submit_decoded(
        &self,
        writes: &[DecodedWrite],
    ) -> Result<Vec<EntryId>, SubmitError> {
        let entries = writes
            .iter()
            .map(|write| decoded_entry(self, write))
            .collect::<Result<Vec<_>, _>>()?;
        let recorded = self
            .inner
            .store
            .append_many(entries)
            .await
            .map_err(SubmitError::Store)?;
        self.inner.drainer.work().notify_one();
        Ok(recorded.into_iter().map(|e| e.id).collect())
    }

    /// `request` checked and encoded as the journal records it.
    fn new_entry<E: JournalWrite>(&self, request: &E) -> Result<NewEntry, SubmitError> {
        request.validate().map_err(SubmitError::Invalid)?;
        let method = E::INFO.method;
        let body = serde_json::to_string(request).map_err(|e| {
            SubmitError::Invalid(RequestError::Encoding {
                method,
                field: "(body)",
                reason: e.to_string(),
            })
        })?;
        // What is stored must be what every attempt sends: read back through the route
        // table the drainer uses, it serializes to the same bytes.
        let replayable = matches!(
            AnyRequest::decode(method, body.as_bytes()),
            Some(Ok(decoded)) if any_body(&decoded).as_deref() == Some(body.as_str())
        );
        if !replayable {
            return Err(SubmitError::NotReplayable { method });
        }
        let order_keys = E::INFO
            .journal
            .map(|info| order_keys(&info, &body))
            .unwrap_or_default();
        Ok(NewEntry {
            method: method.to_owned(),
            body,
            order_keys,
            created_ms: self.inner.clock.now_ms(),
        })
    }

    /// The receipt of entry `id`, submitted earlier (before a restart, say), as a write
    /// of type `E`.
    pub fn receipt<E: JournalWrite>(&self, id: EntryId) -> Receipt<E> {
        Receipt {
            id,
            journal: self.clone(),
            _write: PhantomData,
        }
    }

    /// Where entry `id` stands now.
    pub async fn status(&self, id: EntryId) -> Result<Status, JournalError> {
        let entry = self
            .inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| JournalError::not_found(id))?;
        Ok(Status::of(&entry))
    }

    /// Starts this process's drainer: a task that settles entries until the handle is
    /// dropped or [stopped](DrainerHandle::stop). Any number of processes may drain one
    /// store. Needs a Tokio runtime.
    pub fn start(&self) -> DrainerHandle {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let drainer = self.inner.drainer.clone();
        let task = tokio::spawn(async move {
            drainer
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        DrainerHandle {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// One pass of a drainer, in this task: what is due is claimed, sent or probed, and
    /// settled. For tests and for `ump journal drain`.
    pub async fn drain_once(&self) -> Result<Pass, JournalError> {
        self.inner.drainer.pass().await
    }
}

/// `kind:value` for each order key path of `info` found in `body` (a JSON object), and
/// `~kind:value` for each of its after keys (followed, not held): a
/// field's text or number, or, for `list[].field`, that field of each item of the list
/// (the list itself may travel as JSON text). Absent and empty values name nothing.
pub(crate) fn order_keys(info: &JournalInfo, body: &str) -> Vec<String> {
    let Ok(object) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut keys = Vec::new();
    let held = info.order_keys.iter().map(|(kind, path)| ("", kind, path));
    let followed = info.after_keys.iter().map(|(kind, path)| ("~", kind, path));
    for (mode, kind, path) in held.chain(followed) {
        match path.split_once("[].") {
            None => {
                if let Some(value) = object.get(*path).and_then(text) {
                    keys.push(format!("{mode}{kind}:{value}"));
                }
            }
            Some((list, field)) => {
                let items = match object.get(list) {
                    Some(serde_json::Value::String(s)) => serde_json::from_str(s).ok(),
                    Some(v) => Some(v.clone()),
                    None => None,
                };
                if let Some(serde_json::Value::Array(items)) = items {
                    for item in &items {
                        if let Some(value) = item.get(field).and_then(text) {
                            keys.push(format!("{mode}{kind}:{value}"));
                        }
                    }
                }
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The receipt of a recorded write.
pub struct Receipt<E> {
    /// The journal's number of the write.
    pub id: EntryId,
    journal: Journal,
    _write: PhantomData<fn() -> E>,
}

impl<E> fmt::Debug for Receipt<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt").field("id", &self.id).finish()
    }
}

impl<E: JournalWrite> Receipt<E> {
    /// The write's outcome: await it to wait without limit, or bound the wait with
    /// [`OutcomeWait::timeout`] (then a write not settled in time is
    /// [`Outcome::Pending`]).
    pub fn outcome(&self) -> OutcomeWait<'_, E> {
        OutcomeWait {
            receipt: self,
            timeout: None,
        }
    }
}

/// Waiting for a write's outcome ([`Receipt::outcome`]).
pub struct OutcomeWait<'a, E> {
    receipt: &'a Receipt<E>,
    timeout: Option<Duration>,
}

impl<E> OutcomeWait<'_, E> {
    /// Waits at most `timeout`: a write not settled by then is [`Outcome::Pending`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a, E: JournalWrite> IntoFuture for OutcomeWait<'a, E> {
    type Output = Result<Outcome<E::Data>, JournalError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let inner = &self.receipt.journal.inner;
            let status = openplatform_runtime::journal::wait_for(
                &inner.store,
                inner.drainer.settled(),
                self.receipt.id,
                self.timeout,
                inner.poll.min(Duration::from_millis(200)),
            )
            .await?;
            Ok(Outcome::from_status(status))
        })
    }
}

/// What became of a journalled write.
///
/// Exhaustive on purpose: these four are the journal's whole state machine as a
/// submitter sees it, and the `match` on them is the one place a till decides what to
/// tell its customer, so a new outcome must fail to compile there rather than fall into a
/// wildcard.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// In effect on the platform, once. `data` is the applying answer's (the open id of
    /// 3.1, a statement id, an order id); `None` when that answer was lost (an earlier
    /// attempt applied it) or a probe found the write in effect.
    Applied {
        /// The platform's data.
        data: Option<T>,
    },
    /// Refused by the platform: nothing of it is in effect, and nothing will be.
    Refused {
        /// The platform's code, when it gave one.
        code: Option<ErrorCode>,
        /// What it said.
        message: String,
    },
    /// Recorded and not settled yet: the journal keeps trying.
    Pending {
        /// Attempts made so far.
        attempts: u32,
        /// When the next attempt is due (ms since 1970), when one is waiting.
        next_attempt_ms: Option<i64>,
        /// Why the last attempt did not settle it.
        last_error: Option<String>,
    },
    /// Needs an operator (`ump journal list --state attention`): why.
    Attention {
        /// Why.
        error: String,
    },
}

impl<T: Tolerant> Outcome<T> {
    /// The typed outcome of a status.
    fn from_status(status: Status) -> Outcome<T> {
        match status {
            Status::Applied { data } => Outcome::Applied {
                data: data.and_then(|d| {
                    T::deserialize_tolerant(&mut serde_json::Deserializer::from_str(&d))
                        .ok()
                        .flatten()
                }),
            },
            Status::Refused { code, message } => Outcome::Refused {
                code: code.map(<ErrorCode as openplatform_runtime::ApiErrorCode>::from_code),
                message,
            },
            Status::Pending {
                attempts,
                next_attempt_ms,
                last_error,
            } => Outcome::Pending {
                attempts,
                next_attempt_ms,
                last_error,
            },
            Status::Attention { error } => Outcome::Attention { error },
            _ => Outcome::Attention {
                error: "a status this SDK does not know".into(),
            },
        }
    }
}

/// This process's drainer ([`Journal::start`]): stops when dropped.
#[derive(Debug)]
pub struct DrainerHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl DrainerHandle {
    /// Stops the drainer after the pass it is in (an attempt under way is finished and
    /// written), and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DrainerHandle {
    fn drop(&mut self) {
        // Dropped without `stop`: the task is aborted. An attempt under way may be cut;
        // its entry stays in flight until the lease runs out, then any drainer settles it.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Sends and probes stored UMP requests.
struct UmpDispatch {
    client: Client,
}

impl Dispatch for UmpDispatch {
    fn journal_info(&self, method: &str) -> Option<JournalInfo> {
        JOURNALLED
            .contains(&method)
            .then(|| AnyRequest::endpoint(method).and_then(|info| info.journal))
            .flatten()
    }

    fn send<'a>(
        &'a self,
        entry: &'a Entry,
        timeout: Duration,
    ) -> DispatchFuture<'a, AttemptAnswer> {
        Box::pin(async move {
            match AnyRequest::decode(&entry.method, entry.body.as_bytes()) {
                Some(Ok(request)) => send_decoded(&self.client, &request, timeout)
                    .await
                    .unwrap_or_else(|| AttemptAnswer::Invalid {
                        error: format!("{} is not a journalled write", entry.method),
                    }),
                Some(Err(e)) => AttemptAnswer::Invalid {
                    error: format!(
                        "the stored request of {} does not decode: {e}",
                        entry.method
                    ),
                },
                None => AttemptAnswer::Invalid {
                    error: format!("{} is not a method of this API", entry.method),
                },
            }
        })
    }

    fn probe<'a>(&'a self, entry: &'a Entry, timeout: Duration) -> DispatchFuture<'a, ProbeAnswer> {
        Box::pin(async move {
            match AnyRequest::decode(&entry.method, entry.body.as_bytes()) {
                Some(Ok(AnyRequest::CreateMember(r))) => {
                    probe_member(&self.client, &r, timeout).await
                }
                Some(Ok(AnyRequest::GiveCoupons(r))) => {
                    probe_grant(&self.client, &r, timeout).await
                }
                _ => ProbeAnswer::Unknown {
                    error: format!("{} has no probe", entry.method),
                },
            }
        })
    }
}

/// 3.1 is in effect when 3.2 finds a member by its phone (one phone, one member).
async fn probe_member(
    client: &Client,
    request: &CreateMemberRequest,
    timeout: Duration,
) -> ProbeAnswer {
    let query = QueryMemberRequest::new().phone(request.phone.trim());
    let options = CallOptions::default().timeout(timeout);
    match client.runtime().send_with(&query, options).await {
        Ok(reply) => ProbeAnswer::InEffect {
            data: reply
                .data
                .and_then(|m| m.open_id)
                .and_then(|id| serde_json::to_string(&id).ok()),
        },
        Err(e) if e.code() == Some(ErrorCode::MemberNotFound) => ProbeAnswer::NotInEffect,
        Err(e) => ProbeAnswer::Unknown {
            error: e.to_string(),
        },
    }
}

/// 5.2 is in effect when 5.5 lists, for each grant, a coupon of the grant's number; not
/// at all when it lists none of them.
async fn probe_grant(
    client: &Client,
    request: &GiveCouponsRequest,
    timeout: Duration,
) -> ProbeAnswer {
    let mut found = 0;
    for grant in &request.coupon_set {
        // 5.5 takes an open id or a phone, as a grant names its member.
        let list = ListUserCouponsRequest::new(grant.open_id.trim());
        let mut items = client.coupons().list_user_coupons_stream(list);
        let mut seen = false;
        let walk = async {
            while let Some(item) = items.next().await {
                match item {
                    Ok(coupon) => {
                        if coupon.third_coupon_code.as_deref().map(str::trim)
                            == Some(grant.coupon_number.trim())
                        {
                            seen = true;
                            break;
                        }
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, walk).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return ProbeAnswer::Unknown { error },
            Err(_) => {
                return ProbeAnswer::Unknown {
                    error: format!("listing the member's coupons took longer than {timeout:?}"),
                };
            }
        }
        found += usize::from(seen);
    }
    match found {
        0 => ProbeAnswer::NotInEffect,
        n if n == request.coupon_set.len() => ProbeAnswer::InEffect { data: None },
        n => ProbeAnswer::Partly {
            what: format!(
                "{n} of the {} grants' coupons are listed",
                request.coupon_set.len()
            ),
        },
    }
}
