//! Exactly-once points changes in every schedule.
//!
//! Enumerates every schedule of one logical points change: each exchange (the original,
//! the retries, and — for the old protocol — the rollbacks and re-applications) meets one
//! of four fates (committed and answered, committed and the reply dropped, not committed
//! because busy, delayed past the client's timeout and committed later), and each delayed
//! exchange lands at every possible point of the rest of the schedule. Each schedule runs
//! against the sandbox's own ledger, in process ([`Controls::apply`]), with its clock moved
//! by the client's timeout and pauses. The floor, in every schedule: no double credit, no
//! lost credit, and what the caller is told matches the ledger (an unresolved change is
//! resolved afterwards with the same request and must then be applied once).
//!
//! The enumeration is a stateless search: a schedule is the list of choices made at each
//! choice point; after a run the last choice with options left is advanced.

// Exchanges return the client's own result type, whatever its size.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use gree_ump::endpoints::{
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
    RollbackPointsArgs, RollbackPointsRequest,
};
use gree_ump::generated::routes::AnyRequest;
use gree_ump::recovery::{Answer, AppliedBy, ChangeProtocol, Recovery, Step, Verdict};
use gree_ump::runtime::{ApiError, BodyExcerpt, TransportError};
use gree_ump::{Error, ErrorCode};
use gree_ump_sandbox::{Controls, SandboxConfig};

const SCORE: i64 = 100;
const CHANGE: &str = "wk.user.event.score.change";
const ROLLBACK: &str = "wk.user.event.score.rollback";
/// The client's request timeout: a delayed exchange lands after it.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Exchanges whose fate is explored; later ones are answered (the network heals).
const EXPLORED_EXCHANGES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Answered,
    ReplyDropped,
    Busy,
    Late,
}
const FATES: [Fate; 4] = [Fate::Answered, Fate::ReplyDropped, Fate::Busy, Fate::Late];

/// One request on the wire.
#[derive(Debug, Clone)]
enum Wire {
    Change(ChangePointsRequest),
    Rollback(RollbackPointsRequest),
}

impl Wire {
    fn method(&self) -> &'static str {
        match self {
            Wire::Change(_) => CHANGE,
            Wire::Rollback(_) => ROLLBACK,
        }
    }
    fn any(&self) -> AnyRequest {
        match self {
            Wire::Change(r) => AnyRequest::ChangePoints(r.clone()),
            Wire::Rollback(r) => AnyRequest::RollbackPoints(r.clone()),
        }
    }
}

/// What the caller was told.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Told {
    Applied { statement_id: Option<String> },
    NotApplied,
    Unresolved,
}

enum Action {
    Send { wire: Wire, pause: Duration },
    Done(Told),
}

/// A recovery protocol, driven exchange by exchange: `None` is the first call.
trait Driver {
    fn next(&mut self, answer: Option<&Result<String, Error>>) -> Action;
}

/// The shipped protocol ([`ChangeProtocol`]): the same change, the same change_id.
struct SameKey {
    request: ChangePointsRequest,
    protocol: ChangeProtocol,
}

impl Driver for SameKey {
    fn next(&mut self, answer: Option<&Result<String, Error>>) -> Action {
        let Some(result) = answer else {
            return Action::Send {
                wire: Wire::Change(self.request.clone()),
                pause: Duration::ZERO,
            };
        };
        match self
            .protocol
            .on_answer(Answer::of(result, |sid| Some(sid.clone())))
        {
            Step::SendAfter(pause) => Action::Send {
                wire: Wire::Change(self.request.clone()),
                pause,
            },
            Step::Done(Verdict::Applied { statement_id, by }) => {
                assert_eq!(statement_id.is_some(), by == AppliedBy::ThisAttempt);
                Action::Done(Told::Applied { statement_id })
            }
            // Both say this call applied nothing (keys here are fresh, so a key in use
            // is never another change's).
            Step::Done(Verdict::Refused | Verdict::KeyInUse | Verdict::NotSent) => {
                Action::Done(Told::NotApplied)
            }
            Step::Done(Verdict::Unresolved) => Action::Done(Told::Unresolved),
        }
    }
}

/// The protocol of the previous release, as a model: on an unknown outcome roll back by
/// change_id (polling), then re-apply under a new change_id. Kept to show that the
/// search finds the double credit of a delayed original.
struct RollbackThenReapply {
    request: ChangePointsRequest,
    original_id: String,
    polls: u32,
    reapplied: u32,
    in_rollback: bool,
}

impl RollbackThenReapply {
    fn rollback(&mut self) -> Action {
        self.in_rollback = true;
        self.polls += 1;
        Action::Send {
            wire: Wire::Rollback(RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: self.request.open_id.clone(),
                rollback_score: self.request.score,
                change_id: self.request.change_id.clone(),
            })),
            pause: Duration::from_millis(500),
        }
    }
    fn reapply(&mut self) -> Action {
        if self.reapplied >= 1 {
            return Action::Done(Told::NotApplied);
        }
        self.reapplied += 1;
        self.in_rollback = false;
        self.polls = 0;
        self.request.change_id = format!("{}-r{}", self.original_id, self.reapplied);
        Action::Send {
            wire: Wire::Change(self.request.clone()),
            pause: Duration::ZERO,
        }
    }
}

impl Driver for RollbackThenReapply {
    fn next(&mut self, answer: Option<&Result<String, Error>>) -> Action {
        let Some(result) = answer else {
            return Action::Send {
                wire: Wire::Change(self.request.clone()),
                pause: Duration::ZERO,
            };
        };
        let unknown = |e: &Error| e.outcome_unknown() || e.is_transient();
        match (self.in_rollback, result) {
            (false, Ok(sid)) => Action::Done(Told::Applied {
                statement_id: Some(sid.clone()),
            }),
            (false, Err(e)) if unknown(e) => self.rollback(),
            (false, Err(_)) => Action::Done(Told::NotApplied),
            (true, Ok(_)) => self.reapply(),
            (true, Err(e)) => match e.code() {
                Some(ErrorCode::ChangeNotFound | ErrorCode::ChangeIdExists) => self.reapply(),
                _ if unknown(e) && self.polls < 2 => self.rollback(),
                _ => Action::Done(Told::Unresolved),
            },
        }
    }
}

/// Choices of one run, replayed from a prefix; 0 past the prefix.
struct Chooser {
    prefix: Vec<usize>,
    trace: Vec<(usize, usize)>,
}

impl Chooser {
    fn choose(&mut self, options: usize) -> usize {
        let choice = self.prefix.get(self.trace.len()).copied().unwrap_or(0);
        self.trace.push((choice, options));
        choice
    }

    /// The prefix of the next schedule, or `None` when all were run.
    fn next_prefix(mut self) -> Option<Vec<usize>> {
        while let Some((choice, options)) = self.trace.pop() {
            if choice + 1 < options {
                let mut prefix: Vec<usize> = self.trace.iter().map(|(c, _)| *c).collect();
                prefix.push(choice + 1);
                return Some(prefix);
            }
        }
        None
    }
}

/// The platform's answer as the client's error type.
fn api_error(method: &'static str, e: &gree_ump_sandbox::ApiError) -> Error {
    Error::Api(ApiError {
        code: ErrorCode::from_code(e.code),
        raw_code: e.code,
        code_text: None,
        message: Some(e.message.clone()),
        method,
        status: 200,
        body: BodyExcerpt::default(),
    })
}

fn lost(method: &'static str) -> Error {
    Error::Transport(TransportError::timed_out(method, TIMEOUT))
}

struct Late {
    wire: Wire,
    sent_ms: i64,
}

/// One schedule's world: the sandbox's ledger, its clock, the delayed exchanges.
struct Run {
    platform: Controls,
    open_id: String,
    late: Vec<Late>,
    exchanges: usize,
}

impl Run {
    fn new() -> Self {
        let platform = Controls::in_process(SandboxConfig::default().with_id_seed(7));
        let reply = platform
            .apply(AnyRequest::CreateMember(CreateMemberRequest::new(
                CreateMemberArgs {
                    project_id: "18756".into(),
                    nickname: "张三".into(),
                    phone: "13800000000".into(),
                },
            )))
            .expect("member");
        let open_id = reply.data.as_str().expect("an open_id").to_owned();
        Run {
            platform,
            open_id,
            late: Vec::new(),
            exchanges: 0,
        }
    }

    fn deliver(&self, wire: &Wire) -> Result<String, Error> {
        match self.platform.apply(wire.any()) {
            Ok(reply) => Ok(reply.data["statement_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            Err(e) => Err(api_error(wire.method(), &e)),
        }
    }

    /// A delayed exchange lands, after the client's timeout has passed for it.
    fn land(&mut self, index: usize) {
        let late = self.late.remove(index);
        let due = late.sent_ms + TIMEOUT.as_millis() as i64 + 1;
        let now = self.platform.now_ms();
        if now < due {
            self.platform.advance_ms(due - now);
        }
        // Its answer reaches nobody: the client gave up.
        let _ = self.deliver(&late.wire);
    }

    /// Before an exchange (or at the end), any delayed exchanges may land, in any order.
    fn maybe_land(&mut self, chooser: &mut Chooser, all: bool) {
        while !self.late.is_empty() {
            let options = self.late.len() + usize::from(!all);
            let c = chooser.choose(options);
            if !all && c == 0 {
                return;
            }
            self.land(c - usize::from(!all));
        }
    }

    fn exchange(
        &mut self,
        wire: Wire,
        chooser: &mut Chooser,
        explore: bool,
    ) -> Result<String, Error> {
        self.exchanges += 1;
        let fate = if explore && self.exchanges <= EXPLORED_EXCHANGES {
            FATES[chooser.choose(FATES.len())]
        } else {
            Fate::Answered
        };
        let method = wire.method();
        match fate {
            Fate::Answered => self.deliver(&wire),
            Fate::ReplyDropped => {
                let _ = self.deliver(&wire);
                Err(lost(method))
            }
            Fate::Busy => Err(api_error(
                method,
                &gree_ump_sandbox::ApiError::of(ErrorCode::SystemBusy),
            )),
            Fate::Late => {
                self.late.push(Late {
                    wire,
                    sent_ms: self.platform.now_ms(),
                });
                self.platform.advance_ms(TIMEOUT.as_millis() as i64);
                Err(lost(method))
            }
        }
    }

    /// Drives a protocol to its end; `explore`: fates are chosen, else all answered.
    fn drive(&mut self, driver: &mut dyn Driver, chooser: &mut Chooser, explore: bool) -> Told {
        let mut action = driver.next(None);
        loop {
            match action {
                Action::Send { wire, pause } => {
                    self.platform.advance_ms(pause.as_millis() as i64);
                    if explore {
                        self.maybe_land(chooser, false);
                    }
                    let answer = self.exchange(wire, chooser, explore);
                    action = driver.next(Some(&answer));
                }
                Action::Done(told) => return told,
            }
        }
    }

    /// How many times the change is in effect (net of rollbacks), and the statement ids
    /// of the credits.
    fn in_effect(&self) -> (i64, Vec<String>) {
        let ledger = self.platform.ledger(&self.open_id).expect("the member");
        assert_eq!(ledger.score % SCORE, 0, "{ledger:?}");
        let credits = ledger
            .entries
            .iter()
            .filter(|e| e.amount > 0)
            .map(|e| e.statement_id.clone())
            .collect();
        (ledger.score / SCORE, credits)
    }
}

#[derive(Debug, Default)]
struct Findings {
    schedules: u64,
    doubles: u64,
    lost: u64,
    mismatches: u64,
    unresolved_then_resolved: u64,
    first: Option<String>,
}

fn recovery() -> Recovery {
    Recovery {
        poll_interval: Duration::from_secs(1),
        max_attempts: EXPLORED_EXCHANGES as u32,
        attempt_lifetime: TIMEOUT * 4,
    }
}

fn change(open_id: &str) -> ChangePointsRequest {
    ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.into(),
        score: SCORE,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    })
}

/// Runs every schedule of the protocol `make` builds.
fn explore(make: &dyn Fn(&str) -> Box<dyn Driver>) -> Findings {
    let mut found = Findings::default();
    let mut prefix = Some(Vec::new());
    while let Some(p) = prefix {
        let mut chooser = Chooser {
            prefix: p,
            trace: Vec::new(),
        };
        let mut run = Run::new();
        let mut driver = make(&run.open_id);
        let mut told = run.drive(driver.as_mut(), &mut chooser, true);
        run.maybe_land(&mut chooser, true);
        if told == Told::Unresolved {
            // The caller resolves later with the same request, on a healed network.
            found.unresolved_then_resolved += 1;
            let mut protocol = SameKey {
                request: change(&run.open_id),
                protocol: ChangeProtocol::resending(recovery()),
            };
            told = run.drive(&mut protocol, &mut chooser, false);
        }
        let (times, credits) = run.in_effect();
        let problem = match (&told, times) {
            (_, n) if n > 1 => Some(("double", &mut found.doubles)),
            (Told::Applied { .. }, 0) => Some(("lost", &mut found.lost)),
            (
                Told::Applied {
                    statement_id: Some(s),
                },
                1,
            ) if !credits.contains(s) => Some(("wrong statement", &mut found.mismatches)),
            (Told::NotApplied, 1) | (Told::Unresolved, _) => {
                Some(("outcome does not match the ledger", &mut found.mismatches))
            }
            _ => None,
        };
        if let Some((what, counter)) = problem {
            *counter += 1;
            found.first.get_or_insert_with(|| {
                format!(
                    "{what}: told {told:?}, credits {credits:?}, choices {:?}",
                    chooser.trace
                )
            });
        }
        found.schedules += 1;
        prefix = chooser.next_prefix();
    }
    found
}

#[test]
fn the_same_key_protocol_is_exactly_once_in_every_schedule() {
    let found = explore(&|open_id| {
        Box::new(SameKey {
            request: change(open_id),
            protocol: ChangeProtocol::new(recovery()),
        })
    });
    eprintln!(
        "same-key protocol: {} schedules explored ({} exchanges with 4 fates each, every landing \
         point of the delayed ones); {} left unresolved and resolved afterwards; {} double \
         credits, {} lost credits, {} outcome mismatches",
        found.schedules,
        EXPLORED_EXCHANGES,
        found.unresolved_then_resolved,
        found.doubles,
        found.lost,
        found.mismatches
    );
    assert!(found.schedules > 500, "{found:?}");
    assert_eq!(
        (found.doubles, found.lost, found.mismatches),
        (0, 0, 0),
        "first failing schedule: {:?}",
        found.first
    );
}

/// The search has teeth: it finds the double credit of the old protocol.
#[test]
fn the_old_rollback_protocol_double_credits_in_some_schedule() {
    let found = explore(&|open_id| {
        Box::new(RollbackThenReapply {
            request: change(open_id),
            original_id: "chg-1".to_owned(),
            polls: 0,
            reapplied: 0,
            in_rollback: false,
        })
    });
    eprintln!(
        "old rollback-then-reapply protocol: {} schedules explored; {} double credits, {} lost, \
         {} mismatches; e.g. {}",
        found.schedules,
        found.doubles,
        found.lost,
        found.mismatches,
        found.first.as_deref().unwrap_or("-")
    );
    assert!(found.doubles > 0, "{found:?}");
}
