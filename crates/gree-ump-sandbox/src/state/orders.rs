//! 4.1–4.3: orders and returns.
//!
//! - 4.1 records an order and credits its `order_score` (growth value too); the items'
//!   `use_score` (points paid with) are debited first, and must be covered by the
//!   balance before the order's own credit: 150003 (积分池扣减积分, 用户可用积分不足).
//!   `data` is the platform's order id.
//! - `order_no` is a natural key (the document has no idempotency key for orders; errata
//!   E70): the same `order_no` with the same member, amount, points and `consume_date`
//!   answers the first order's id without a second credit — so a lost reply is settled by
//!   re-sending the identical request; with different content (another `consume_date`
//!   too) it is 1001. Returns do the same with their own `order_no`.
//! - A return names its `parent_order_no`, which must be an order of the same member
//!   (120002 查询不到对应订单). Returned amounts add up to at most the order amount, and an
//!   order wholly returned takes no more returns (150007 退款积分比例超出上限).
//! - 4.2 (whole return) takes back every point the order still has (credit minus what
//!   rollbacks and partial returns already took) and gives back every point it spent.
//! - 4.3 (partial return) takes back the items' `add_score + active_score` and gives back
//!   their `use_score` when the items carry them; otherwise it takes back and gives back
//!   in proportion to the returned amount (rounded down), and the return that completes
//!   the order amount settles the rest. More than is left is 150007.
//! - Taking back points the member no longer has is 150009 (积分余额不足以回退).
//! - A phone (when `open_id` is absent) must be 11 digits starting with 1 (120001 非法的电话).

use gree_ump::ErrorCode;
use gree_ump::endpoints::{AddOrderRequest, RefundOrderPartiallyRequest, RefundOrderRequest};
use gree_ump::models::OrderItem;
use gree_ump::wire::{BeijingDateTime, Yuan};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::points::{Posting, order_key};
use super::tracked::Tracked;
use super::{Reply, World, add, yuan_to_fen};
use crate::error::{ApiError, ApiResult};

/// A 4.1 order as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Order {
    pub id: i64,
    pub order_no: String,
    pub open_id: String,
    pub fingerprint: String,
    pub amount_fen: i64,
    pub order_score: i64,
    pub use_score: i64,
    pub consume_date: String,
    pub refunded_fen: i64,
    pub fully_refunded: bool,
    pub refunds: Vec<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RefundKind {
    Whole,
    Partial,
}

/// A 4.2 or 4.3 return as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Refund {
    pub id: i64,
    pub order_no: String,
    pub parent_order_no: String,
    pub open_id: String,
    pub kind: RefundKind,
    pub fingerprint: String,
    pub amount_fen: i64,
    pub points_taken_back: i64,
    pub points_given_back: i64,
    pub created_ms: i64,
}

/// Every order and return, by `order_no`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct OrderBook {
    pub(crate) orders: Tracked<String, Order>,
    pub(crate) refunds: Tracked<String, Refund>,
}

/// The fields 4.2 and 4.3 share (their request types are separate but identical).
struct RefundInput<'a> {
    open_id: Option<&'a str>,
    phone: Option<&'a str>,
    consume_date: &'a BeijingDateTime,
    order_amount: &'a Yuan,
    order_no: &'a str,
    parent_order_no: &'a str,
    items: Option<&'a [OrderItem]>,
}

/// Sums of the items' scores; `None` when no item carries that score.
struct ItemScores {
    earned: Option<i64>,
    used: Option<i64>,
}

fn item_scores(items: Option<&[OrderItem]>) -> ApiResult<ItemScores> {
    let mut earned: Option<i64> = None;
    let mut used: Option<i64> = None;
    let check = |field: &str, v: i64| {
        if v < 0 {
            Err(ApiError::invalid(format!("{field} must be ≥ 0, got {v}")))
        } else {
            Ok(v)
        }
    };
    for item in items.unwrap_or_default() {
        for (field, value) in [
            ("add_score", item.add_score),
            ("active_score", item.active_score),
        ] {
            if let Some(v) = value {
                earned = Some(add(earned.unwrap_or(0), check(field, v)?)?);
            }
        }
        if let Some(v) = item.use_score {
            used = Some(add(used.unwrap_or(0), check("use_score", v)?)?);
        }
    }
    Ok(ItemScores { earned, used })
}

/// `part` of `whole` in proportion `num / den`, rounded down (0 when `den` is 0).
fn share(whole: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    i64::try_from(i128::from(whole) * i128::from(num) / i128::from(den)).unwrap_or(i64::MAX)
}

impl World {
    /// 4.1 `wk.user.order.add`: `data` is the platform's order id.
    pub fn add_order(&mut self, req: &AddOrderRequest, now_ms: i64) -> ApiResult<Reply> {
        const METHOD: &str =
            <gree_ump::endpoints::AddOrderRequest as gree_ump::Endpoint>::INFO.method;
        let open_id = self.members.resolve_either(
            req.open_id.as_deref(),
            req.phone.as_deref(),
            Some(ErrorCode::OrderInvalidPhone),
        )?;
        let amount_fen = yuan_to_fen("order_amount", &req.order_amount)?;
        if req.order_score < 0 {
            return Err(ApiError::invalid(format!(
                "order_score must be ≥ 0, got {}",
                req.order_score
            )));
        }
        let order_no = req.order_no.trim().to_owned();
        let spent = item_scores(req.item_info_list.as_deref())?
            .used
            .unwrap_or(0);
        // The whole identity of an order (errata E70): a re-send with another
        // consume_date is another order under a used order_no.
        let fp = serde_json::to_string(&(
            &open_id,
            amount_fen,
            req.order_score,
            spent,
            req.consume_date.to_string(),
        ))
        .unwrap_or_default();
        if let Some(order) = self.orders.orders.get(&order_no) {
            return if order.fingerprint == fp {
                Ok(Reply::data(json!(order.id)))
            } else {
                Err(ApiError::invalid(format!(
                    "order_no {order_no} already exists with other content"
                )))
            };
        }
        let balance = self.members.get(&open_id)?.score;
        if balance < spent {
            return Err(ApiError::with(
                ErrorCode::PointPoolInsufficient,
                format!("balance {balance}, points used {spent}"),
            ));
        }
        self.post(
            &open_id,
            &[
                Posting {
                    amount: -spent,
                    desc: "积分抵扣",
                    method: METHOD,
                    change_id: None,
                    order_no: Some(&order_no),
                },
                Posting {
                    amount: req.order_score,
                    desc: req.desc.as_deref().unwrap_or("消费增加积分"),
                    method: METHOD,
                    change_id: None,
                    order_no: Some(&order_no),
                },
            ],
            req.order_score,
            now_ms,
        )?;
        let account = self
            .points
            .orders
            .entry(order_key(&open_id, &order_no))
            .or_default();
        account.granted = add(account.granted, req.order_score)?;
        account.used = add(account.used, spent)?;
        account.amount_fen = Some(amount_fen);
        let id = self.ids.order_id();
        self.orders.orders.insert(
            order_no.clone(),
            Order {
                id,
                order_no,
                open_id,
                fingerprint: fp,
                amount_fen,
                order_score: req.order_score,
                use_score: spent,
                consume_date: req.consume_date.to_string(),
                refunded_fen: 0,
                fully_refunded: false,
                refunds: Vec::new(),
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!(id)))
    }

    /// 4.2 `wk.user.refund.order.complete`.
    pub fn refund_order(&mut self, req: &RefundOrderRequest, now_ms: i64) -> ApiResult<Reply> {
        self.refund(
            RefundKind::Whole,
            &RefundInput {
                open_id: req.open_id.as_deref(),
                phone: req.phone.as_deref(),
                consume_date: &req.consume_date,
                order_amount: &req.order_amount,
                order_no: &req.order_no,
                parent_order_no: &req.parent_order_no,
                items: req.item_info_list.as_deref(),
            },
            now_ms,
        )
    }

    /// 4.3 `wk.user.refund.order.part`.
    pub fn refund_order_partially(
        &mut self,
        req: &RefundOrderPartiallyRequest,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        self.refund(
            RefundKind::Partial,
            &RefundInput {
                open_id: req.open_id.as_deref(),
                phone: req.phone.as_deref(),
                consume_date: &req.consume_date,
                order_amount: &req.order_amount,
                order_no: &req.order_no,
                parent_order_no: &req.parent_order_no,
                items: req.item_info_list.as_deref(),
            },
            now_ms,
        )
    }

    fn refund(&mut self, kind: RefundKind, req: &RefundInput<'_>, now_ms: i64) -> ApiResult<Reply> {
        let method = match kind {
            RefundKind::Whole => {
                <gree_ump::endpoints::RefundOrderRequest as gree_ump::Endpoint>::INFO.method
            }
            RefundKind::Partial => {
                <gree_ump::endpoints::RefundOrderPartiallyRequest as gree_ump::Endpoint>::INFO
                    .method
            }
        };
        let open_id = self.members.resolve_either(
            req.open_id,
            req.phone,
            Some(ErrorCode::OrderInvalidPhone),
        )?;
        let amount_fen = yuan_to_fen("order_amount", req.order_amount)?;
        let order_no = req.order_no.trim().to_owned();
        let parent_no = req.parent_order_no.trim().to_owned();
        let scores = item_scores(req.items)?;
        let fp = serde_json::to_string(&(
            kind,
            &open_id,
            &parent_no,
            amount_fen,
            scores.earned,
            scores.used,
            req.consume_date.to_string(),
        ))
        .unwrap_or_default();
        if let Some(done) = self.orders.refunds.get(&order_no) {
            return if done.fingerprint == fp {
                Ok(Reply::data(json!(done.id)))
            } else {
                Err(ApiError::invalid(format!(
                    "return order_no {order_no} already exists with other content"
                )))
            };
        }
        let parent = self
            .orders
            .orders
            .get(&parent_no)
            .filter(|o| o.open_id == open_id)
            .ok_or_else(|| ApiError::with(ErrorCode::OrderNotFound, &parent_no))?
            .clone();
        let left_fen = parent.amount_fen.saturating_sub(parent.refunded_fen);
        if parent.fully_refunded || amount_fen > left_fen {
            return Err(ApiError::with(
                ErrorCode::RefundPointRatioExceeded,
                format!(
                    "order {parent_no} has {left_fen} fen left to return{}",
                    if parent.fully_refunded {
                        " and is wholly returned"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let key = order_key(&open_id, &parent_no);
        let account = self.points.orders.get(&key).cloned().unwrap_or_default();
        let completes = kind == RefundKind::Whole || amount_fen == left_fen;
        let (take_back, give_back) = if completes {
            (account.remaining_granted(), account.remaining_used())
        } else {
            let take = scores.earned.unwrap_or_else(|| {
                share(parent.order_score, amount_fen, parent.amount_fen)
                    .min(account.remaining_granted())
            });
            let give = scores.used.unwrap_or_else(|| {
                share(parent.use_score, amount_fen, parent.amount_fen).min(account.remaining_used())
            });
            (take, give)
        };
        if take_back > account.remaining_granted() || give_back > account.remaining_used() {
            return Err(ApiError::with(
                ErrorCode::RefundPointRatioExceeded,
                format!(
                    "order {parent_no} has {} points left to take back and {} to give back",
                    account.remaining_granted(),
                    account.remaining_used()
                ),
            ));
        }
        let balance = self.members.get(&open_id)?.score;
        if add(balance, give_back)? < take_back {
            return Err(ApiError::with(
                ErrorCode::InsufficientPointsForRollback,
                format!("balance {balance}, points to take back {take_back}"),
            ));
        }
        self.post(
            &open_id,
            &[
                Posting {
                    amount: give_back,
                    desc: "退货返还抵扣积分",
                    method,
                    change_id: None,
                    order_no: Some(&parent_no),
                },
                Posting {
                    amount: -take_back,
                    desc: "退货扣回积分",
                    method,
                    change_id: None,
                    order_no: Some(&parent_no),
                },
            ],
            -take_back,
            now_ms,
        )?;
        let account = self.points.orders.entry(key).or_default();
        account.reversed = account.reversed.saturating_add(take_back);
        account.returned = account.returned.saturating_add(give_back);
        if let Some(parent) = self.orders.orders.get_mut(&parent_no) {
            parent.refunded_fen = parent.refunded_fen.saturating_add(amount_fen);
            parent.fully_refunded = completes;
            parent.refunds.push(order_no.clone());
        }
        let id = self.ids.order_id();
        self.orders.refunds.insert(
            order_no.clone(),
            Refund {
                id,
                order_no,
                parent_order_no: parent_no,
                open_id,
                kind,
                fingerprint: fp,
                amount_fen,
                points_taken_back: take_back,
                points_given_back: give_back,
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!(id)))
    }
}
