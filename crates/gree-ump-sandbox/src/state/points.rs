//! 3.3–3.5: point changes, rollbacks, partial rollbacks, the ledger.
//!
//! Balances: a member has one balance of available points (3.2 `score`); it never goes
//! below zero.
//!
//! - 3.3 change: `change_event` must be a registered event (`event_add` credits,
//!   `event_subtract` debits by default; an unknown event is 150001 集团未配置积分规则).
//!   The amount is `score + activity_score`, both ≥ 0; the event gives the direction.
//!   A debit larger than the balance is 150008 (积分不够扣除).
//! - Idempotency on `change_id` (用于平台幂等性保证): any call under a `change_id` a
//!   committed change already used is 150002 (唯一标识已存在, 请更换), whatever its body:
//!   that is how the document answers a reused key, including a client's own retry of a
//!   change whose reply was lost (errata E69). It never credits twice. With
//!   [`SandboxConfig::replay_identical_keys`](crate::SandboxConfig) the identical request
//!   (member, score, activity_score, change_event, out_biz_no) replays the first answer
//!   instead. A refused change leaves no trace: its `change_id` stays free.
//! - 3.4.1 rollback, normal path: `statement_id` names the change (150004 when no change
//!   of that member has it); `change_id` is a fresh key. Recovery path (no
//!   `statement_id`): `change_id` is the lost change's; when no change has it the answer
//!   is 1005 with the text's words 未查询到该积分变更信息 — the change never happened.
//!   There is no tombstone: a late original arriving afterwards is applied.
//!   The rollback's own `change_id` is its idempotency key (errata E31): any second
//!   rollback under it is 150002 (E69; the identical one replays with
//!   `replay_identical_keys`). Rollback keys are separate from change keys (on the
//!   recovery path they are equal by design), and 3.4.2 keys from 3.4.1 keys.
//!   `rollback_score`/`rollback_activity_score` may not exceed what is left of the
//!   change's `score`/`activity_score` (150007 退款积分比例超出上限); rolling back a credit
//!   needs the points to still be there (150009 积分余额不足以回退); rolling back a debit
//!   gives the points back. `items` and `parent_order_no` are recorded, not used.
//! - 3.4.2 partial rollback: `parent_order_no` is the order whose points are returned
//!   (the `out_biz_no` of 3.3 changes, or the `order_no` of a 4.1 order), or, when no
//!   such order exists, the order of the change whose `change_id` is sent (the text's
//!   recovery path); none: 1005. Items' `base_score + activity_score` are taken back,
//!   their `use_score` given back; items carrying none of the three take back the
//!   order's points in proportion to `total_price` over the order amount (rounded down).
//!   Taking back more than the order earned, or giving back more than it spent, is
//!   150007; a balance too low is 150009. Idempotent on `change_id` like 3.4.1.
//! - Every call that moves points writes ledger entries under one new statement id.
//!   3.5 lists them newest first; `amount` is signed (income > 0, expense < 0) and
//!   `score_type` 1/2 selects income/expense.

use gree_ump::ErrorCode;
use gree_ump::endpoints::{
    ChangePointsRequest, ListPointRecordsRequest, RollbackPointsPartiallyRequest,
    RollbackPointsRequest,
};
use gree_ump::models::ScoreType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::tracked::Tracked;
use super::{Reply, World, add, paginate, yuan_to_fen};
use crate::clock::beijing_text;
use crate::config::PointDirection;
use crate::error::{ApiError, ApiResult};

/// One row of a member's point ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The entry's id (3.5 `id`).
    pub id: i64,
    /// The statement id of the call that wrote it (`SP0…`, as 3.3 answers it); one call
    /// may write several entries under one statement.
    pub statement_id: String,
    /// Signed: credits positive, debits negative.
    pub amount: i64,
    /// The description: the request's reason (3.3 `change_reason`, 4.1 `desc`) or the
    /// sandbox's own words (积分抵扣, 退货扣回积分…).
    pub desc: String,
    /// The method that wrote it.
    pub method: String,
    /// The `change_id` of the 3.3/3.4 call that wrote it; `None` for orders and returns.
    pub change_id: Option<String>,
    /// The order the points belong to (3.3 `out_biz_no`, 4.x `order_no`), if any.
    pub order_no: Option<String>,
    /// When it was written, sandbox time in ms since the epoch.
    pub created_ms: i64,
    /// The member's available points after it.
    pub balance_after: i64,
}

/// A 3.3 change as applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChangeRecord {
    pub change_id: String,
    pub open_id: String,
    pub fingerprint: String,
    pub statement_id: String,
    pub direction: PointDirection,
    pub score: i64,
    pub activity_score: i64,
    pub out_biz_no: String,
    pub order_amount_fen: Option<i64>,
    pub rolled_back_score: i64,
    pub rolled_back_activity_score: i64,
    pub created_ms: i64,
}

/// A rollback (3.4.1 or 3.4.2) as applied, for replays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RollbackRecord {
    pub change_id: String,
    pub open_id: String,
    pub fingerprint: String,
    pub statement_id: String,
    /// Net effect on the balance.
    pub delta: i64,
    pub created_ms: i64,
}

/// The points of one order of one member, whichever call moved them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct OrderPoints {
    /// Points credited for the order (3.3 credits with this out_biz_no, 4.1 order_score).
    pub granted: i64,
    /// Of those, taken back (rollbacks, refunds).
    pub reversed: i64,
    /// Points spent on the order (3.3 debits with this out_biz_no, 4.1 use_score).
    pub used: i64,
    /// Of those, given back.
    pub returned: i64,
    /// The order amount in fen, when a call stated it.
    pub amount_fen: Option<i64>,
}

impl OrderPoints {
    pub(crate) fn remaining_granted(&self) -> i64 {
        self.granted.saturating_sub(self.reversed)
    }
    pub(crate) fn remaining_used(&self) -> i64 {
        self.used.saturating_sub(self.returned)
    }
}

/// Every point change and rollback, and the points of each order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct PointBook {
    /// 3.3 changes by change_id.
    pub(crate) changes: Tracked<String, ChangeRecord>,
    /// statement_id → change_id of the 3.3 change that created it.
    pub(crate) statements: Tracked<String, String>,
    /// 3.4.1 rollbacks by their change_id.
    pub(crate) rollbacks: Tracked<String, RollbackRecord>,
    /// 3.4.2 partial rollbacks by their change_id.
    pub(crate) partial_rollbacks: Tracked<String, RollbackRecord>,
    /// Points per `open_id/order_no`.
    pub(crate) orders: Tracked<String, OrderPoints>,
}

pub(crate) fn order_key(open_id: &str, order_no: &str) -> String {
    format!("{open_id}/{order_no}")
}

fn fingerprint<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn non_negative(field: &str, value: i64) -> ApiResult<i64> {
    if value < 0 {
        Err(ApiError::invalid(format!(
            "{field} must be ≥ 0, got {value}"
        )))
    } else {
        Ok(value)
    }
}

/// One movement of points to post.
pub(crate) struct Posting<'a> {
    pub amount: i64,
    pub desc: &'a str,
    pub method: &'a str,
    pub change_id: Option<&'a str>,
    pub order_no: Option<&'a str>,
}

impl World {
    /// Applies postings to a member's balance under one statement id, in order, and moves
    /// the growth value by `growth_delta` (never below 0). Callers check the business
    /// rules (and answer their own codes) first; this refuses a negative final balance
    /// or an overflow without changing anything.
    pub(crate) fn post(
        &mut self,
        open_id: &str,
        postings: &[Posting<'_>],
        growth_delta: i64,
        now_ms: i64,
    ) -> ApiResult<String> {
        // Everything that can fail is checked before anything changes.
        let member = self.members.get(open_id)?;
        let mut final_score = member.score;
        for posting in postings {
            final_score = add(final_score, posting.amount)?;
        }
        if final_score < 0 {
            return Err(ApiError::invalid("balance would become negative"));
        }
        add(member.growth_value, growth_delta)?;
        let statement_id = self.ids.statement_id(now_ms);
        let ids: Vec<i64> = postings.iter().map(|_| self.ids.ledger_id()).collect();
        let member = self.members.get_mut(open_id)?;
        for (posting, id) in postings.iter().zip(ids) {
            if posting.amount == 0 {
                continue;
            }
            member.score = add(member.score, posting.amount)?;
            member.ledger.push(LedgerEntry {
                id,
                statement_id: statement_id.clone(),
                amount: posting.amount,
                desc: posting.desc.to_owned(),
                method: posting.method.to_owned(),
                change_id: posting.change_id.map(str::to_owned),
                order_no: posting.order_no.map(str::to_owned),
                created_ms: now_ms,
                balance_after: member.score,
            });
        }
        member.growth_value = add(member.growth_value, growth_delta)?.max(0);
        Ok(statement_id)
    }

    fn balance(&self, open_id: &str) -> ApiResult<i64> {
        Ok(self.members.get(open_id)?.score)
    }

    /// 3.3 `wk.user.event.score.change`.
    pub fn change_points(&mut self, req: &ChangePointsRequest, now_ms: i64) -> ApiResult<Reply> {
        const METHOD: &str =
            <gree_ump::endpoints::ChangePointsRequest as gree_ump::Endpoint>::INFO.method;
        let score = non_negative("score", req.score)?;
        let activity = non_negative("activity_score", req.activity_score.unwrap_or(0))?;
        let open_id = self.members.resolve(&req.open_id)?;
        let fp = fingerprint(&(
            &open_id,
            score,
            activity,
            &req.change_event,
            &req.out_biz_no,
        ));
        if let Some(done) = self.points.changes.get(&req.change_id) {
            return if self.config.replay_identical_keys && done.fingerprint == fp {
                Ok(Reply::data(json!({"statement_id": done.statement_id})))
            } else {
                Err(ApiError::with(
                    ErrorCode::ChangeIdExists,
                    format!("change_id {} is already used", req.change_id),
                ))
            };
        }
        let direction = self
            .point_event(&req.change_event)
            .map(|e| e.direction)
            .ok_or_else(|| {
                ApiError::with(
                    ErrorCode::PointRuleNotConfigured,
                    format!("change_event {} is not registered", req.change_event),
                )
            })?;
        let amount_fen = req
            .order_amount
            .as_ref()
            .map(|a| yuan_to_fen("order_amount", a))
            .transpose()?;
        let total = add(score, activity)?;
        let (signed, growth) = match direction {
            PointDirection::Credit => (total, total),
            PointDirection::Debit => {
                let balance = self.balance(&open_id)?;
                if balance < total {
                    return Err(ApiError::with(
                        ErrorCode::InsufficientPoints,
                        format!("balance {balance}, debit {total}"),
                    ));
                }
                (-total, 0)
            }
        };
        let statement_id = self.post(
            &open_id,
            &[Posting {
                amount: signed,
                desc: &req.change_reason,
                method: METHOD,
                change_id: Some(&req.change_id),
                order_no: Some(&req.out_biz_no),
            }],
            growth,
            now_ms,
        )?;
        let account = self
            .points
            .orders
            .entry(order_key(&open_id, &req.out_biz_no))
            .or_default();
        match direction {
            PointDirection::Credit => account.granted = add(account.granted, total)?,
            PointDirection::Debit => account.used = add(account.used, total)?,
        }
        if amount_fen.is_some() {
            account.amount_fen = amount_fen;
        }
        self.points
            .statements
            .insert(statement_id.clone(), req.change_id.clone());
        self.points.changes.insert(
            req.change_id.clone(),
            ChangeRecord {
                change_id: req.change_id.clone(),
                open_id,
                fingerprint: fp,
                statement_id: statement_id.clone(),
                direction,
                score,
                activity_score: activity,
                out_biz_no: req.out_biz_no.clone(),
                order_amount_fen: amount_fen,
                rolled_back_score: 0,
                rolled_back_activity_score: 0,
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!({"statement_id": statement_id})))
    }

    /// 3.4.1 `wk.user.event.score.rollback`.
    pub fn rollback_points(
        &mut self,
        req: &RollbackPointsRequest,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        const METHOD: &str =
            <gree_ump::endpoints::RollbackPointsRequest as gree_ump::Endpoint>::INFO.method;
        let score = non_negative("rollback_score", req.rollback_score)?;
        let activity = non_negative(
            "rollback_activity_score",
            req.rollback_activity_score.unwrap_or(0),
        )?;
        let open_id = self.members.resolve(&req.open_id)?;
        let statement = req
            .statement_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let fp = fingerprint(&(&open_id, statement, score, activity, &req.parent_order_no));
        if let Some(done) = self.points.rollbacks.get(&req.change_id) {
            return replay(done, &fp, &req.change_id, self.config.replay_identical_keys);
        }
        // Which change is rolled back: by statement (normal path) or by change_id
        // (recovery path: the change's reply was lost).
        let target = match statement {
            Some(sid) => self
                .points
                .statements
                .get(sid)
                .and_then(|cid| self.points.changes.get(cid))
                .filter(|c| c.open_id == open_id)
                .ok_or_else(|| ApiError::with(ErrorCode::PointStatementNotFound, sid))?,
            None => self
                .points
                .changes
                .get(&req.change_id)
                .filter(|c| c.open_id == open_id)
                .ok_or_else(|| ApiError {
                    code: ErrorCode::ChangeNotFound.code(),
                    message: "未查询到该积分变更信息".to_owned(),
                })?,
        }
        .clone();
        let score_left = target.score.saturating_sub(target.rolled_back_score);
        let activity_left = target
            .activity_score
            .saturating_sub(target.rolled_back_activity_score);
        if score > score_left || activity > activity_left {
            return Err(ApiError::with(
                ErrorCode::RefundPointRatioExceeded,
                format!(
                    "change {} has {} + {} points left to roll back",
                    target.statement_id, score_left, activity_left
                ),
            ));
        }
        let total = add(score, activity)?;
        let key = order_key(&open_id, &target.out_biz_no);
        let account = self.points.orders.get(&key).cloned().unwrap_or_default();
        let (signed, growth) = match target.direction {
            PointDirection::Credit => {
                if total > account.remaining_granted() {
                    return Err(ApiError::with(
                        ErrorCode::RefundPointRatioExceeded,
                        format!(
                            "order {} has {} points left to take back",
                            target.out_biz_no,
                            account.remaining_granted()
                        ),
                    ));
                }
                let balance = self.balance(&open_id)?;
                if balance < total {
                    return Err(ApiError::with(
                        ErrorCode::InsufficientPointsForRollback,
                        format!("balance {balance}, rollback {total}"),
                    ));
                }
                (-total, -total)
            }
            PointDirection::Debit => (total, 0),
        };
        let desc = format!("积分回退 {}", target.statement_id);
        let statement_id = self.post(
            &open_id,
            &[Posting {
                amount: signed,
                desc: &desc,
                method: METHOD,
                change_id: Some(&req.change_id),
                order_no: Some(&target.out_biz_no),
            }],
            growth,
            now_ms,
        )?;
        let account = self.points.orders.entry(key).or_default();
        match target.direction {
            PointDirection::Credit => account.reversed = account.reversed.saturating_add(total),
            PointDirection::Debit => account.returned = account.returned.saturating_add(total),
        }
        if let Some(change) = self.points.changes.get_mut(&target.change_id) {
            change.rolled_back_score = change.rolled_back_score.saturating_add(score);
            change.rolled_back_activity_score =
                change.rolled_back_activity_score.saturating_add(activity);
        }
        self.points.rollbacks.insert(
            req.change_id.clone(),
            RollbackRecord {
                change_id: req.change_id.clone(),
                open_id,
                fingerprint: fp,
                statement_id: statement_id.clone(),
                delta: signed,
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!({"statement_id": statement_id})))
    }

    /// 3.4.2 `wk.user.event.score.rollback.part`.
    pub fn rollback_points_partially(
        &mut self,
        req: &RollbackPointsPartiallyRequest,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        const METHOD: &str =
            <gree_ump::endpoints::RollbackPointsPartiallyRequest as gree_ump::Endpoint>::INFO
                .method;
        if req.items.is_empty() {
            return Err(ApiError::invalid("items must list at least one item"));
        }
        let mut take_back = 0i64;
        let mut give_back = 0i64;
        let mut price_fen = 0i64;
        let mut any_score = false;
        for item in &req.items {
            for (field, value) in [
                ("base_score", item.base_score),
                ("activity_score", item.activity_score),
                ("use_score", item.use_score),
            ] {
                if let Some(v) = value {
                    non_negative(field, v)?;
                    any_score = true;
                }
            }
            take_back = add(
                take_back,
                add(
                    item.base_score.unwrap_or(0),
                    item.activity_score.unwrap_or(0),
                )?,
            )?;
            give_back = add(give_back, item.use_score.unwrap_or(0))?;
            price_fen = add(price_fen, yuan_to_fen("total_price", &item.total_price)?)?;
        }
        let open_id = self.members.resolve(&req.open_id)?;
        let fp = fingerprint(&(&open_id, &req.parent_order_no, &req.items));
        if let Some(done) = self.points.partial_rollbacks.get(&req.change_id) {
            return replay(done, &fp, &req.change_id, self.config.replay_identical_keys);
        }
        let mut order_no = req.parent_order_no.trim().to_owned();
        if !self
            .points
            .orders
            .contains_key(&order_key(&open_id, &order_no))
        {
            // The text's recovery path: change_id is the original change's.
            match self
                .points
                .changes
                .get(&req.change_id)
                .filter(|c| c.open_id == open_id)
            {
                Some(change) => order_no = change.out_biz_no.clone(),
                None => {
                    return Err(ApiError {
                        code: ErrorCode::ChangeNotFound.code(),
                        message: "未查询到该积分变更信息".to_owned(),
                    });
                }
            }
        }
        let key = order_key(&open_id, &order_no);
        let account = self.points.orders.get(&key).cloned().unwrap_or_default();
        if !any_score {
            // No scores on the items: the platform computes them from the price.
            take_back = match account.amount_fen {
                Some(amount) if amount > 0 => {
                    let share =
                        i128::from(account.granted) * i128::from(price_fen) / i128::from(amount);
                    i64::try_from(share)
                        .unwrap_or(i64::MAX)
                        .min(account.remaining_granted())
                }
                _ => 0,
            };
        }
        if take_back > account.remaining_granted() || give_back > account.remaining_used() {
            return Err(ApiError::with(
                ErrorCode::RefundPointRatioExceeded,
                format!(
                    "order {order_no} has {} points left to take back and {} to give back",
                    account.remaining_granted(),
                    account.remaining_used()
                ),
            ));
        }
        let balance = self.balance(&open_id)?;
        if add(balance, give_back)? < take_back {
            return Err(ApiError::with(
                ErrorCode::InsufficientPointsForRollback,
                format!("balance {balance}, rollback {take_back}"),
            ));
        }
        let statement_id = self.post(
            &open_id,
            &[
                Posting {
                    amount: give_back,
                    desc: "部分回退返还抵扣积分",
                    method: METHOD,
                    change_id: Some(&req.change_id),
                    order_no: Some(&order_no),
                },
                Posting {
                    amount: -take_back,
                    desc: "部分回退扣回积分",
                    method: METHOD,
                    change_id: Some(&req.change_id),
                    order_no: Some(&order_no),
                },
            ],
            -take_back,
            now_ms,
        )?;
        let account = self.points.orders.entry(key).or_default();
        account.reversed = account.reversed.saturating_add(take_back);
        account.returned = account.returned.saturating_add(give_back);
        self.points.partial_rollbacks.insert(
            req.change_id.clone(),
            RollbackRecord {
                change_id: req.change_id.clone(),
                open_id,
                fingerprint: fp,
                statement_id: statement_id.clone(),
                delta: give_back.saturating_sub(take_back),
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!({"statement_id": statement_id})))
    }

    /// 3.5 `wk.user.score.record`: newest first.
    pub fn list_point_records(&self, req: &ListPointRecordsRequest) -> ApiResult<Reply> {
        let open_id = self.members.resolve(&req.open_id)?;
        let member = self.members.get(&open_id)?;
        let keep: fn(&LedgerEntry) -> bool = match req.score_type {
            ScoreType::All => |_| true,
            ScoreType::Income => |e| e.amount > 0,
            ScoreType::Expense => |e| e.amount < 0,
            other => {
                return Err(ApiError::invalid(format!(
                    "score_type must be 0, 1 or 2, got {}",
                    other.code()
                )));
            }
        };
        let rows: Vec<Value> = member
            .ledger
            .iter()
            .rev()
            .filter(|e| keep(e))
            .map(|e| {
                let at = beijing_text(e.created_ms);
                json!({
                    "id": e.id,
                    "amount": e.amount,
                    "desc": e.desc,
                    "createTime": at,
                    "updateTime": at,
                })
            })
            .collect();
        let (rows, page) = paginate(&rows, i64::from(req.page_no), i64::from(req.page_size))?;
        Ok(Reply {
            data: Value::Array(rows),
            page: Some(page),
        })
    }
}

/// The answer to a repeated rollback key: 150002 (E69), or the first answer to the
/// identical request when the sandbox was asked to replay.
fn replay(done: &RollbackRecord, fp: &str, change_id: &str, identical: bool) -> ApiResult<Reply> {
    if identical && done.fingerprint == fp {
        Ok(Reply::data(json!({"statement_id": done.statement_id})))
    } else {
        Err(ApiError::with(
            ErrorCode::ChangeIdExists,
            format!("change_id {change_id} is already used by a rollback"),
        ))
    }
}
