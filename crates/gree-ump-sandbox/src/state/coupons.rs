//! 5.1–5.5: coupon templates, issued coupons and their states.
//!
//! - 5.1: `third_coupon_id` (the caller's template id) is a natural key: the same
//!   request again answers the same template id, different content is 1001. Discount
//!   categories (2, 4) need `discount_fee` in 1–99; `coupon_type` 1 needs
//!   `begin_time < end_time`, `coupon_type` 0 needs `fixed_term ≥ 1` (days).
//! - 5.2: every grant's member must exist (110004; nothing is issued then); `number`
//!   coupons are issued per grant: the first carries the grant's `coupon_number` as its
//!   `third_coupon_code`, further ones `coupon_number-2`, `coupon_number-3`…, because a
//!   code must designate one coupon for 5.3/5.4. Giving a code again to the same member
//!   from the same template answers the same coupon (no second coupon); a code held by
//!   another coupon is 1001; `number` is at most 1000 (1001 beyond). `quantity`
//!   (stock) and `claim_number` (per member), when not 0, are enforced with 130001
//!   (创建优惠券失败); the refusal issues nothing. Validity: the template's period
//!   (`coupon_type` 1) or `fixed_term` days from `create_time` (`coupon_type` 0).
//!   `member_restrict_type` and `receive_method` are stored, not enforced.
//! - A coupon's stored status is what 5.2/5.3/5.4 set; what is reported is derived with
//!   the sandbox clock: a valid coupon before its period starts reports 4 (未开始); one
//!   past its end is expired (found by the 5.5 filter 3) but keeps reporting its status,
//!   as the 5.5 status enumeration has no "expired" value.
//! - 5.3 sets any documented status, except that 2 (已经使用) and 0 (无效/删除) are final:
//!   changing them is 130003 (更新优惠券状态失败); setting the current status again
//!   succeeds. A code the member does not hold (or an unknown member) is 130002. `data`
//!   is the `third_coupon_code`.
//! - 5.4 verifies all listed codes or none: each must be the member's (130002), valid,
//!   started, not expired and not used (130003), and the order amount must reach the
//!   coupon's `minimum_fee` (130003). A coupon already used on the same `order_no` at the
//!   same `verification_time` is accepted again without change, so the identical re-send
//!   of a verification whose reply was lost succeeds (errata E70); another time is 130003. Expiry is
//!   judged on the sandbox clock, not on `verification_time`.
//! - 5.5 lists the member's coupons newest first (defaults: page 1, 15 per page), in the
//!   shape of the 5.5 example: `coupon_code` a 19-digit JSON number, `stores`, `items`
//!   and `categories` JSON strings.

use gree_ump::ErrorCode;
use gree_ump::endpoints::{
    AddCouponTemplateRequest, GiveCouponsRequest, ListUserCouponsRequest, SyncCouponStatusRequest,
    VerifyCouponsRequest,
};
use gree_ump::models::{
    CouponCategory, CouponStatus, CouponStatusFilter, CouponValidityType, NamedRef, ParamsType,
};
use gree_ump::wire::Fen;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::tracked::Tracked;
use super::{Reply, World, paginate, yuan_to_fen};
use crate::error::{ApiError, ApiResult};

const DAY_MS: i64 = 86_400_000;

/// The most coupons one grant of 5.2 issues (`number`).
const MAX_PER_MEMBER: i32 = 1_000;

/// A 5.1 coupon template as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Template {
    pub id: i64,
    pub fingerprint: String,
    pub request: AddCouponTemplateRequest,
    pub issued: i64,
    pub created_ms: i64,
}

/// A coupon issued to a member by 5.2.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IssuedCoupon {
    /// The member coupon's id (5.5 `id`).
    pub id: i64,
    /// The platform's coupon code (5.2 `code`, 5.5 `coupon_code`), 19 digits.
    pub code: i64,
    pub third_coupon_code: String,
    pub template_id: i64,
    pub open_id: String,
    pub receive_time_ms: i64,
    pub begin_ms: i64,
    pub end_ms: i64,
    /// The stored status code (CouponStatus).
    pub status: i64,
    pub use_order_no: Option<String>,
    pub used_ms: Option<i64>,
}

impl IssuedCoupon {
    /// The status to report at `now_ms`.
    pub(crate) fn effective_status(&self, now_ms: i64) -> i64 {
        let valid = CouponStatus::Valid.code();
        if self.status == valid && now_ms < self.begin_ms {
            CouponStatus::NotStarted.code()
        } else {
            self.status
        }
    }

    /// Past its period and neither used nor cancelled.
    pub(crate) fn is_expired(&self, now_ms: i64) -> bool {
        now_ms > self.end_ms && !is_final(self.status)
    }
}

fn is_final(status: i64) -> bool {
    status == CouponStatus::Used.code() || status == CouponStatus::Invalid.code()
}

/// Every template and issued coupon.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct CouponBook {
    pub(crate) templates: Tracked<i64, Template>,
    pub(crate) template_by_third_id: Tracked<String, i64>,
    pub(crate) coupons: Tracked<i64, IssuedCoupon>,
    pub(crate) by_third_code: Tracked<String, i64>,
}

impl CouponBook {
    /// How many coupons a member can use now (3.2 `coupon_num`).
    pub(crate) fn valid_count(&self, open_id: &str, now_ms: i64) -> i64 {
        let n = self
            .coupons
            .values()
            .filter(|c| c.open_id == open_id)
            .filter(|c| {
                let s = c.effective_status(now_ms);
                (s == CouponStatus::Valid.code() || s == CouponStatus::InUse.code())
                    && !c.is_expired(now_ms)
            })
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// The coupon with this third-party code held by this member.
    fn held(&self, open_id: &str, third_code: &str) -> ApiResult<&IssuedCoupon> {
        self.by_third_code
            .get(third_code.trim())
            .and_then(|id| self.coupons.get(id))
            .filter(|c| c.open_id == open_id)
            .ok_or_else(|| ApiError::with(ErrorCode::CouponNotFound, third_code))
    }

    pub(crate) fn dump(&self, now_ms: i64) -> Value {
        let coupons: Vec<Value> = self
            .coupons
            .values()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut v {
                    map.insert("effective_status".into(), json!(c.effective_status(now_ms)));
                    map.insert("expired".into(), json!(c.is_expired(now_ms)));
                }
                v
            })
            .collect();
        json!({
            "templates": self.templates,
            "coupons": coupons,
        })
    }
}

fn refs_text(refs: Option<&Vec<NamedRef>>) -> String {
    refs.and_then(|r| serde_json::to_string(r).ok())
        .unwrap_or_else(|| "[]".to_owned())
}

fn non_negative(field: &str, value: Option<i64>) -> ApiResult<()> {
    match value {
        Some(v) if v < 0 => Err(ApiError::invalid(format!("{field} must be ≥ 0, got {v}"))),
        _ => Ok(()),
    }
}

impl World {
    /// 5.1 `wk.coupon.template.add`: `data` is the template id.
    pub fn add_coupon_template(
        &mut self,
        req: &AddCouponTemplateRequest,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        match req.coupon_category {
            CouponCategory::OrderDiscount | CouponCategory::ItemDiscount => {
                if !(1..=99).contains(&req.discount_fee) {
                    return Err(ApiError::invalid(format!(
                        "discount_fee of a discount coupon must be 1–99, got {}",
                        req.discount_fee
                    )));
                }
            }
            CouponCategory::Unknown(c) => {
                return Err(ApiError::invalid(format!("coupon_category {c} is not 0–4")));
            }
            _ => non_negative("discount_fee", Some(req.discount_fee))?,
        }
        match req.coupon_type {
            CouponValidityType::FixedPeriod => {
                let (Some(begin), Some(end)) = (req.begin_time, req.end_time) else {
                    return Err(ApiError::invalid(
                        "begin_time and end_time are required when coupon_type is 1",
                    ));
                };
                if begin.0 >= end.0 {
                    return Err(ApiError::invalid("begin_time must be before end_time"));
                }
            }
            CouponValidityType::DaysAfterReceipt => {
                if req.fixed_term.unwrap_or(0) < 1 {
                    return Err(ApiError::invalid(
                        "fixed_term (days, ≥ 1) is required when coupon_type is 0",
                    ));
                }
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "coupon_type {} is not 0 or 1",
                    other.code()
                )));
            }
        }
        non_negative("minimum_fee", req.minimum_fee.map(Fen::get))?;
        non_negative("quantity", req.quantity.map(i64::from))?;
        non_negative("claim_number", req.claim_number.map(i64::from))?;
        let third_id = req.third_coupon_id.trim().to_owned();
        let fp = serde_json::to_string(req).unwrap_or_default();
        if let Some(id) = self.coupons.template_by_third_id.get(&third_id) {
            let same = self
                .coupons
                .templates
                .get(id)
                .is_some_and(|t| t.fingerprint == fp);
            return if same {
                Ok(Reply::data(json!(id)))
            } else {
                Err(ApiError::invalid(format!(
                    "third_coupon_id {third_id} already exists with other content"
                )))
            };
        }
        let mut id = self.ids.template_id();
        // Ids are unique unless a loaded state file says otherwise: never overwrite.
        while self.coupons.templates.contains_key(&id) {
            id = self.ids.template_id();
        }
        self.coupons.template_by_third_id.insert(third_id, id);
        self.coupons.templates.insert(
            id,
            Template {
                id,
                fingerprint: fp,
                request: req.clone(),
                issued: 0,
                created_ms: now_ms,
            },
        );
        Ok(Reply::data(json!(id)))
    }

    /// 5.2 `wk.coupon.give`: `data` lists `{code, open_id}` per coupon issued.
    pub fn give_coupons(&mut self, req: &GiveCouponsRequest) -> ApiResult<Reply> {
        // The document states no maximum; 1000 per member keeps one call bounded.
        if !(1..=MAX_PER_MEMBER).contains(&req.number) {
            return Err(ApiError::invalid(format!(
                "number must be 1–{MAX_PER_MEMBER}, got {}",
                req.number
            )));
        }
        if req.coupon_set.is_empty() {
            return Err(ApiError::invalid("coupon_set must list at least one grant"));
        }
        let template_id = *self
            .coupons
            .template_by_third_id
            .get(req.third_coupon_id.trim())
            .ok_or_else(|| {
                ApiError::with(ErrorCode::CouponTemplateNotFound, &req.third_coupon_id)
            })?;
        let template = self
            .coupons
            .templates
            .get(&template_id)
            .ok_or_else(|| ApiError::with(ErrorCode::CouponTemplateNotFound, template_id))?
            .clone();
        // Check everything first: a refused grant issues nothing.
        struct Planned {
            open_id: String,
            third_code: String,
            existing: Option<i64>,
        }
        let mut plan: Vec<Planned> = Vec::new();
        for grant in &req.coupon_set {
            let key = grant.open_id.trim();
            let open_id = match grant.params_type {
                ParamsType::OpenId => self
                    .members
                    .by_open_id
                    .contains_key(key)
                    .then(|| key.to_owned()),
                ParamsType::Phone => self.members.by_phone.get(key).cloned(),
                other => {
                    return Err(ApiError::invalid(format!(
                        "params_type {} is not 1 or 2",
                        other.code()
                    )));
                }
            }
            .ok_or_else(|| ApiError::with(ErrorCode::MemberNotFound, key))?;
            let number = grant.coupon_number.trim();
            if number.is_empty() {
                return Err(ApiError::invalid("coupon_number must not be empty"));
            }
            for k in 1..=req.number {
                let third_code = if k == 1 {
                    number.to_owned()
                } else {
                    format!("{number}-{k}")
                };
                let existing = match self.coupons.by_third_code.get(&third_code) {
                    None => None,
                    Some(id) => match self.coupons.coupons.get(id) {
                        Some(c) if c.open_id == open_id && c.template_id == template_id => {
                            Some(c.id)
                        }
                        _ => {
                            return Err(ApiError::invalid(format!(
                                "coupon_number {third_code} is already used by another coupon"
                            )));
                        }
                    },
                };
                if plan.iter().any(|p| p.third_code == third_code) {
                    return Err(ApiError::invalid(format!(
                        "coupon_number {third_code} appears twice"
                    )));
                }
                plan.push(Planned {
                    open_id: open_id.clone(),
                    third_code,
                    existing,
                });
            }
        }
        let new_count =
            i64::try_from(plan.iter().filter(|p| p.existing.is_none()).count()).unwrap_or(i64::MAX);
        let quantity = i64::from(template.request.quantity.unwrap_or(0));
        if quantity > 0 && template.issued.saturating_add(new_count) > quantity {
            return Err(ApiError::with(
                ErrorCode::CouponCreateFailed,
                format!("out of stock: {} of {quantity} issued", template.issued),
            ));
        }
        let claim = i64::from(template.request.claim_number.unwrap_or(0));
        if claim > 0 {
            for p in plan.iter().filter(|p| p.existing.is_none()) {
                let held = self
                    .coupons
                    .coupons
                    .values()
                    .filter(|c| c.template_id == template_id && c.open_id == p.open_id)
                    .count();
                let adding = plan
                    .iter()
                    .filter(|q| q.existing.is_none() && q.open_id == p.open_id)
                    .count();
                if i64::try_from(held + adding).unwrap_or(i64::MAX) > claim {
                    return Err(ApiError::with(
                        ErrorCode::CouponCreateFailed,
                        format!(
                            "member {} may receive this coupon {claim} time(s)",
                            p.open_id
                        ),
                    ));
                }
            }
        }
        let receive_ms = req.create_time.0;
        let (begin_ms, end_ms) = match template.request.coupon_type {
            CouponValidityType::FixedPeriod => (
                template.request.begin_time.map_or(receive_ms, |t| t.0),
                template.request.end_time.map_or(i64::MAX, |t| t.0),
            ),
            _ => {
                let days = i64::from(template.request.fixed_term.unwrap_or(0));
                (
                    receive_ms,
                    receive_ms.saturating_add(days.saturating_mul(DAY_MS)),
                )
            }
        };
        let mut given = Vec::with_capacity(plan.len());
        for p in plan {
            let code = match p.existing.and_then(|id| self.coupons.coupons.get(&id)) {
                Some(c) => c.code,
                None => {
                    let mut code = self.ids.coupon_code();
                    while self.coupons.coupons.values().any(|c| c.code == code) {
                        code = self.ids.coupon_code();
                    }
                    let mut id = self.ids.user_coupon_id();
                    while self.coupons.coupons.contains_key(&id) {
                        id = self.ids.user_coupon_id();
                    }
                    self.coupons.by_third_code.insert(p.third_code.clone(), id);
                    self.coupons.coupons.insert(
                        id,
                        IssuedCoupon {
                            id,
                            code,
                            third_coupon_code: p.third_code,
                            template_id,
                            open_id: p.open_id.clone(),
                            receive_time_ms: receive_ms,
                            begin_ms,
                            end_ms,
                            status: CouponStatus::Valid.code(),
                            use_order_no: None,
                            used_ms: None,
                        },
                    );
                    if let Some(t) = self.coupons.templates.get_mut(&template_id) {
                        t.issued = t.issued.saturating_add(1);
                    }
                    code
                }
            };
            given.push(json!({"code": code, "open_id": p.open_id}));
        }
        Ok(Reply::data(Value::Array(given)))
    }

    /// 5.3 `wk.coupon.sync.status`: `data` is the third-party code.
    pub fn sync_coupon_status(&mut self, req: &SyncCouponStatusRequest) -> ApiResult<Reply> {
        let target = match req.status {
            CouponStatus::Unknown(s) => {
                return Err(ApiError::invalid(format!("status {s} is not 0–4")));
            }
            s => s.code(),
        };
        let open_id = self
            .members
            .resolve(&req.open_id)
            .map_err(|_| ApiError::with(ErrorCode::CouponNotFound, &req.open_id))?;
        let coupon = self.coupons.held(&open_id, &req.third_coupon_code)?;
        if coupon.status != target && is_final(coupon.status) {
            return Err(ApiError::with(
                ErrorCode::CouponStatusUpdateFailed,
                format!("status {} is final", coupon.status),
            ));
        }
        let id = coupon.id;
        let third_code = coupon.third_coupon_code.clone();
        if let Some(c) = self.coupons.coupons.get_mut(&id) {
            c.status = target;
        }
        Ok(Reply::data(json!(third_code)))
    }

    /// 5.4 `wk.coupon.verification`: `data` is null.
    pub fn verify_coupons(&mut self, req: &VerifyCouponsRequest, now_ms: i64) -> ApiResult<Reply> {
        let codes: Vec<&str> = req
            .third_coupon_codes
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        if codes.is_empty() {
            return Err(ApiError::invalid("third_coupon_codes lists no code"));
        }
        let amount_fen = yuan_to_fen("order_amount", &req.order_amount)?;
        let open_id = self
            .members
            .resolve(&req.open_id)
            .map_err(|_| ApiError::with(ErrorCode::CouponNotFound, &req.open_id))?;
        let order_no = req.order_no.trim();
        let mut to_use = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            if codes[..i].contains(code) {
                return Err(ApiError::invalid(format!("code {code} is listed twice")));
            }
            let coupon = self.coupons.held(&open_id, code)?;
            let refuse = |why: &str| {
                Err(ApiError::with(
                    ErrorCode::CouponStatusUpdateFailed,
                    format!("coupon {code}: {why}"),
                ))
            };
            let status = coupon.effective_status(now_ms);
            if status == CouponStatus::Used.code() {
                if coupon.use_order_no.as_deref() == Some(order_no)
                    && coupon.used_ms == Some(req.verification_time.0)
                {
                    continue; // The identical verification again: a re-send (E70).
                }
                return refuse("already used");
            }
            if status == CouponStatus::Invalid.code() {
                return refuse("cancelled");
            }
            if status == CouponStatus::NotStarted.code() {
                return refuse("validity period not started");
            }
            if coupon.is_expired(now_ms) {
                return refuse("expired");
            }
            let minimum = self
                .coupons
                .templates
                .get(&coupon.template_id)
                .and_then(|t| t.request.minimum_fee)
                .map_or(0, Fen::get);
            if amount_fen < minimum {
                return refuse(&format!(
                    "order amount {amount_fen} fen is below the minimum {minimum} fen"
                ));
            }
            to_use.push(coupon.id);
        }
        for id in to_use {
            if let Some(c) = self.coupons.coupons.get_mut(&id) {
                c.status = CouponStatus::Used.code();
                c.use_order_no = Some(order_no.to_owned());
                c.used_ms = Some(req.verification_time.0);
            }
        }
        Ok(Reply::data(Value::Null))
    }

    /// 5.5 `wk.coupon.user.list`.
    pub fn list_user_coupons(&self, req: &ListUserCouponsRequest, now_ms: i64) -> ApiResult<Reply> {
        let open_id = self.members.resolve(&req.open_id)?;
        let keep = |c: &IssuedCoupon| -> ApiResult<bool> {
            Ok(match req.status {
                None => true,
                Some(CouponStatusFilter::Valid) => {
                    c.effective_status(now_ms) == CouponStatus::Valid.code()
                        && !c.is_expired(now_ms)
                }
                Some(CouponStatusFilter::Used) => c.status == CouponStatus::Used.code(),
                Some(CouponStatusFilter::Expired) => c.is_expired(now_ms),
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "status {} is not 1, 2 or 3",
                        other.code()
                    )));
                }
            })
        };
        let mut mine = Vec::new();
        for c in self
            .coupons
            .coupons
            .values()
            .filter(|c| c.open_id == open_id)
        {
            if keep(c)? {
                mine.push(c);
            }
        }
        mine.sort_by_key(|c| std::cmp::Reverse((c.receive_time_ms, c.id)));
        let rows: Vec<Value> = mine
            .into_iter()
            .map(|c| self.user_coupon_row(c, now_ms))
            .collect();
        let (rows, page) = paginate(
            &rows,
            i64::from(req.page_no.unwrap_or(1)),
            i64::from(req.page_size.unwrap_or(15)),
        )?;
        Ok(Reply {
            data: Value::Array(rows),
            page: Some(page),
        })
    }

    fn user_coupon_row(&self, c: &IssuedCoupon, now_ms: i64) -> Value {
        let t = self
            .coupons
            .templates
            .get(&c.template_id)
            .map(|t| &t.request);
        let code_of = |v: Option<i64>| v.unwrap_or(0);
        json!({
            "coupon_code": c.code,
            "coupon_info_id": c.template_id,
            "stores": refs_text(t.and_then(|t| t.stores.as_ref())),
            "end_time": c.end_ms,
            "minimum_fee": t.and_then(|t| t.minimum_fee).unwrap_or(Fen::ZERO),
            "receive_time": c.receive_time_ms,
            "begin_time": c.begin_ms,
            "coupon_category": t.map(|t| t.coupon_category.code()),
            "rules": t.map(|t| t.rules.as_str()),
            "discount_fee": t.map(|t| t.discount_fee),
            "member_restrict_type": code_of(t.and_then(|t| t.member_restrict_type.map(|v| v.code())).or(Some(2))),
            "third_coupon_code": c.third_coupon_code,
            "use_scope_type": code_of(t.and_then(|t| t.use_scope_type.map(|v| v.code()))),
            "suit_store_type": code_of(t.and_then(|t| t.suit_store_type.map(|v| v.code()))),
            "suit_item_type": code_of(t.and_then(|t| t.suit_item_type.map(|v| v.code()))),
            "use_order_no": c.use_order_no,
            "name": t.map(|t| t.name.as_str()),
            "categories": refs_text(t.and_then(|t| t.categories.as_ref())),
            "fixed_term": t.and_then(|t| t.fixed_term),
            "id": c.id,
            "items": refs_text(t.and_then(|t| t.items.as_ref())),
            "coupon_type": t.map(|t| t.coupon_type.code()),
            "status": c.effective_status(now_ms),
        })
    }
}
