//! Fault injection: what the next calls of a method suffer.
//!
//! A plan applies to the next `times` gateway calls of one method (or of every method,
//! with the method `*`), in the order plans were added; control endpoints never suffer
//! faults. A fault is consumed by any call of the method, whatever its outcome.

use serde::{Deserialize, Serialize};

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// The call is processed (state committed), then the connection is closed without a
    /// reply: the client cannot tell whether the call happened (3.4.1's situation).
    DropAfterCommit,
    /// Nothing is processed; the answer is `{"success":false,"error_code":500,…}`
    /// (系统繁忙, 请稍后再试).
    Busy,
    /// The call waits `delay_ms` before it is processed and answered. It is processed even
    /// if the client gives up meanwhile, so a client timeout leaves the outcome unknown.
    Slow {
        /// The wait before processing, in milliseconds.
        delay_ms: u64,
    },
    /// The call is processed at once, and answered after `delay_ms`.
    SlowAfterCommit {
        /// The wait between processing and answering, in milliseconds.
        delay_ms: u64,
    },
    /// The call is never answered; it is processed `delay_ms` after it arrived, and the
    /// connection is closed then. With `delay_ms` longer than the caller's timeout, the
    /// caller gives up (outcome unknown), may retry, and this attempt commits afterwards:
    /// a request held in a queue past the client's patience.
    CommitAfterTimeout {
        /// The wait before processing (and closing), in milliseconds.
        delay_ms: u64,
    },
    /// The call is processed (state committed) and the reply body is cut in the middle:
    /// HTTP 200 with invalid JSON.
    Malformed,
    /// Nothing is processed; the answer is this HTTP status with a non-JSON body, as a
    /// proxy in front of the platform would send.
    HttpStatus {
        /// The HTTP status answered (502, 503…).
        status: u16,
    },
    /// Nothing is processed; the answer is the platform's error envelope with this code
    /// (and the message the spec gives it): a platform incident that answers `1002` to
    /// every call, token calls included, or a gateway refusing everything.
    Reject {
        /// The error code answered.
        code: i64,
    },
}

impl Fault {
    /// Whether the call is processed at all.
    pub fn commits(&self) -> bool {
        !matches!(
            self,
            Fault::Busy | Fault::HttpStatus { .. } | Fault::Reject { .. }
        )
    }
}

/// A fault for the next `remaining` calls of `method` (`*`: any method).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The method the plan applies to, or [`ANY_METHOD`].
    pub method: String,
    /// What those calls suffer.
    pub fault: Fault,
    /// How many calls it still applies to.
    pub remaining: u32,
}

/// The method name that matches every method.
pub const ANY_METHOD: &str = "*";

/// The pending plans.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    plans: Vec<FaultPlan>,
}

impl FaultQueue {
    /// Adds a plan for the next `times` calls of `method` (none when `times` is 0).
    pub(crate) fn push(&mut self, method: impl Into<String>, fault: Fault, times: u32) {
        if times > 0 {
            self.plans.push(FaultPlan {
                method: method.into(),
                fault,
                remaining: times,
            });
        }
    }

    /// Takes the fault for one call of `method`, if any.
    pub(crate) fn take(&mut self, method: &str) -> Option<Fault> {
        let index = self
            .plans
            .iter()
            .position(|p| p.method == method || p.method == ANY_METHOD)?;
        let plan = self.plans.get_mut(index)?;
        let fault = plan.fault;
        plan.remaining = plan.remaining.saturating_sub(1);
        if plan.remaining == 0 {
            self.plans.remove(index);
        }
        Some(fault)
    }

    /// The pending plans, in the order they were added (the first matching one applies).
    pub(crate) fn plans(&self) -> Vec<FaultPlan> {
        self.plans.clone()
    }

    /// Drops every pending plan.
    pub(crate) fn clear(&mut self) {
        self.plans.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_consumed_in_order() {
        let mut q = FaultQueue::default();
        q.push("a", Fault::Busy, 2);
        q.push(ANY_METHOD, Fault::Malformed, 1);
        q.push("b", Fault::DropAfterCommit, 0);
        assert_eq!(q.take("b"), Some(Fault::Malformed));
        assert_eq!(q.take("b"), None);
        assert_eq!(q.take("a"), Some(Fault::Busy));
        assert_eq!(q.take("a"), Some(Fault::Busy));
        assert_eq!(q.take("a"), None);
    }

    #[test]
    fn serde_form() {
        let f: Fault = serde_json::from_str(r#"{"kind":"slow","delay_ms":50}"#).unwrap();
        assert_eq!(f, Fault::Slow { delay_ms: 50 });
        assert_eq!(
            serde_json::to_string(&Fault::DropAfterCommit).unwrap(),
            r#"{"kind":"drop_after_commit"}"#
        );
    }
}
