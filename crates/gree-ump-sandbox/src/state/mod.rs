//! The platform's state and its semantics, free of HTTP: every operation takes a typed
//! request (from the generated `endpoints`) and the sandbox time, and answers the reply's
//! `data` or an [`ApiError`].
//!
//! One [`World`] holds everything; the server keeps it behind one mutex, so each call
//! is atomic: it checks everything first and changes state only when it will succeed
//! (a refused call leaves no trace, except the token-call counters, which count calls).

pub(crate) mod change_log;
pub mod coupons;
pub mod members;
pub mod orders;
pub mod persist;
pub mod points;
pub mod sms;
pub mod tokens;
pub(crate) mod tracked;
pub mod zvcms_coupons;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{LevelConfig, PointEvent, SandboxConfig};
use crate::error::{ApiError, ApiResult};
use crate::ids::IdGen;

/// The `data` of a successful reply, and the page facts of a paged one.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The reply's `data`, in the shape of the document's response example.
    pub data: Value,
    /// The paging fields, for the paged endpoints (3.5, 3.8, 5.5); `None` otherwise.
    pub page: Option<Page>,
}

impl Reply {
    /// An unpaged reply with this `data`.
    pub fn data(data: Value) -> Self {
        Reply { data, page: None }
    }
}

/// The top-level `pageNo`/`pageSize`/`totalCount` of a paged reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The page number, from 1.
    #[serde(rename = "pageNo")]
    pub page_no: i64,
    /// The page size asked for (the 3.5 and 5.5 examples echo the request; the 3.8
    /// example's 7 for a request of 10 is read as a quirk).
    #[serde(rename = "pageSize")]
    pub page_size: i64,
    /// The number of items over all pages.
    #[serde(rename = "totalCount")]
    pub total_count: i64,
}

/// Cuts one page out of `items`; `page_no` counts from 1. Both must be at least 1.
pub fn paginate<T: Clone>(items: &[T], page_no: i64, page_size: i64) -> ApiResult<(Vec<T>, Page)> {
    if page_no < 1 {
        return Err(ApiError::invalid(format!(
            "page number must be ≥ 1, got {page_no}"
        )));
    }
    if page_size < 1 {
        return Err(ApiError::invalid(format!(
            "page size must be ≥ 1, got {page_size}"
        )));
    }
    let total = items.len();
    let start = usize::try_from((page_no - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let page: Vec<T> = items.iter().skip(start).take(size).cloned().collect();
    Ok((
        page,
        Page {
            page_no,
            page_size,
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
        },
    ))
}

/// Checked sum for amounts coming from requests: an overflow is a bad request, not a panic.
pub(crate) fn add(a: i64, b: i64) -> ApiResult<i64> {
    a.checked_add(b)
        .ok_or_else(|| ApiError::invalid("amount out of range"))
}

/// An amount of yuan in fen; more than two decimals or a negative amount is refused.
pub(crate) fn yuan_to_fen(
    field: &str,
    amount: &openplatform_runtime::wire::Yuan,
) -> ApiResult<i64> {
    if amount.is_negative() && !amount.is_zero() {
        return Err(ApiError::invalid(format!("{field} must not be negative")));
    }
    amount.to_fen().ok_or_else(|| {
        ApiError::invalid(format!(
            "{field} must be yuan with at most two decimals, got {amount}"
        ))
    })
}

/// A mainland mobile number: 11 digits starting with 1 (every phone in the document).
pub fn is_valid_phone(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

/// Everything the platform knows.
#[derive(Debug)]
pub struct World {
    pub(crate) config: SandboxConfig,
    pub(crate) levels: Vec<LevelConfig>,
    pub(crate) ids: IdGen,
    pub(crate) tokens: tokens::TokenBook,
    pub(crate) members: members::MemberBook,
    pub(crate) points: points::PointBook,
    pub(crate) orders: orders::OrderBook,
    pub(crate) coupons: coupons::CouponBook,
    pub(crate) sms: sms::SmsBook,
    /// The zvcms coupons, apart from UMP's (see [`zvcms_coupons`]).
    pub(crate) zvcms: zvcms_coupons::ZvcmsBook,
}

impl World {
    /// A fresh platform with `config`; `seed` makes its generated ids and tokens
    /// reproducible.
    pub fn new(config: SandboxConfig, seed: u64) -> Self {
        World {
            levels: config.normalized_levels(),
            config,
            ids: IdGen::new(seed),
            tokens: tokens::TokenBook::default(),
            members: members::MemberBook::default(),
            points: points::PointBook::default(),
            orders: orders::OrderBook::default(),
            coupons: coupons::CouponBook::default(),
            sms: sms::SmsBook::default(),
            zvcms: zvcms_coupons::ZvcmsBook::default(),
        }
    }

    pub(crate) fn point_event(&self, name: &str) -> Option<&PointEvent> {
        self.config.point_events.iter().find(|e| e.name == name)
    }

    /// All state as JSON, for inspection (tokens are shortened: they are credentials).
    pub fn dump(&self, now_ms: i64) -> Value {
        json!({
            "now_ms": now_ms,
            "now": crate::clock::beijing_text(now_ms),
            "tokens": self.tokens.dump(now_ms),
            "levels": self.levels,
            "point_events": self.config.point_events,
            "members": self.members,
            "points": self.points,
            "orders": self.orders,
            "coupons": self.coupons.dump(now_ms),
            "sms": self.sms,
            "zvcms_coupons": self.zvcms.dump(),
            "ids": self.ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let items: Vec<i32> = (1..=7).collect();
        let (p, page) = paginate(&items, 2, 3).unwrap();
        assert_eq!(p, vec![4, 5, 6]);
        assert_eq!(page.total_count, 7);
        let (p, _) = paginate(&items, 4, 3).unwrap();
        assert!(p.is_empty());
        assert!(paginate(&items, 0, 3).is_err());
        assert!(paginate(&items, 1, 0).is_err());
        let (p, _) = paginate(&items, i64::MAX, i64::MAX).unwrap();
        assert!(p.is_empty());
    }

    #[test]
    fn phones() {
        assert!(is_valid_phone("13800000000"));
        assert!(!is_valid_phone("1380000000"));
        assert!(!is_valid_phone("23800000000"));
        assert!(!is_valid_phone("1380000000a"));
    }
}
