//! The zvcms coupons (`communal.user.coupons-vertify`, 优惠券核销) and their redemption.
//!
//! Kept apart from the UMP coupons of 5.x ([`super::coupons`]): zvcms is another vendor's
//! platform (安徽智迈科技), whose coupons are 18-digit card ids held by an integer
//! `customerId`, while UMP's are codes held by an `open_id`; neither document links the
//! two, so one coupon is never both (errata E21 of `api-spec/zvcms.yaml`). A test puts
//! zvcms coupons in with [`Controls::zvcms_add_coupon`](crate::Controls::zvcms_add_coupon).
//!
//! A redemption, all listed coupons or none:
//! - each id of `couponsCardList` is a coupon's card id, or with `type=1` its scan code:
//!   otherwise [`UNKNOWN_COUPON`];
//! - without `type=1`, the coupon must be the `customerId`'s: otherwise [`NOT_THE_CUSTOMERS`];
//! - `useCount` is for multi-use coupons (次券) only ([`NOT_MULTI_USE`] otherwise) and takes
//!   that many uses; without it one use is taken; fewer uses left than taken is
//!   [`USED_UP`]. A coupon listed twice is [`INVALID_PARAMS`].
//!
//! The document names no code (its examples carry placeholder text; errata E15): the
//! codes here are the sandbox's, business refusals answered with `status: true` as the
//! document's business-error example does.

use super::tracked::Tracked;
use ::zvcms::endpoints::VerifyCouponsRequest;
use ::zvcms::models::CardListType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::zvcms_api::{INVALID_PARAMS, ZvcmsError};

/// No coupon has this card id (or scan code).
pub const UNKNOWN_COUPON: i64 = 2001;
/// The coupon is held by another customer.
pub const NOT_THE_CUSTOMERS: i64 = 2002;
/// The coupon has no use left (already redeemed).
pub const USED_UP: i64 = 2003;
/// `useCount` was sent for a coupon that is not multi-use.
pub const NOT_MULTI_USE: i64 = 2004;

/// One zvcms coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ZvcmsCoupon {
    /// The member coupon id (`couponsCardList`, `cardIdList`): 18 digits on the platform.
    pub card_id: String,
    /// The holder (`customerId`).
    pub customer_id: i64,
    /// The code a member's screen shows, redeemable with `type=1`.
    pub scan_code: Option<String>,
    /// Whether it is a multi-use coupon (次券), redeemed with `useCount`.
    pub multi_use: bool,
    /// Uses left: 1 for a fresh single-use coupon, 0 once redeemed.
    pub uses_left: u32,
}

impl ZvcmsCoupon {
    /// A single-use coupon `card_id` held by `customer_id`.
    pub fn new(card_id: impl Into<String>, customer_id: i64) -> Self {
        ZvcmsCoupon {
            card_id: card_id.into(),
            customer_id,
            scan_code: None,
            multi_use: false,
            uses_left: 1,
        }
    }

    /// The code redeemable with `type=1`.
    pub fn scan_code(mut self, code: impl Into<String>) -> Self {
        self.scan_code = Some(code.into());
        self
    }

    /// A multi-use coupon (次券) with `uses` uses.
    pub fn multi_use(mut self, uses: u32) -> Self {
        self.multi_use = true;
        self.uses_left = uses;
        self
    }
}

/// Every zvcms coupon, by card id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZvcmsBook {
    pub(crate) coupons: Tracked<String, ZvcmsCoupon>,
}

impl ZvcmsBook {
    /// Adds (or replaces) a coupon.
    pub(crate) fn add(&mut self, coupon: ZvcmsCoupon) {
        self.coupons.insert(coupon.card_id.clone(), coupon);
    }

    pub(crate) fn get(&self, card_id: &str) -> Option<&ZvcmsCoupon> {
        self.coupons.get(card_id)
    }

    fn find(&self, id: &str, by_scan_code: bool) -> Option<&ZvcmsCoupon> {
        if by_scan_code {
            self.coupons
                .values()
                .find(|c| c.scan_code.as_deref() == Some(id))
        } else {
            self.coupons.get(id)
        }
    }

    /// Redeems the request's coupons (all or none); the reply's `data`.
    pub(crate) fn verify(&mut self, req: &VerifyCouponsRequest) -> Result<Value, ZvcmsError> {
        let by_scan_code = req.card_list_type == Some(CardListType::ScanCode);
        let uses = match req.use_count {
            None => 1,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ZvcmsError::system(INVALID_PARAMS, "useCount must be ≥ 1"))?,
        };
        let mut card_ids: Vec<String> = Vec::with_capacity(req.coupons_card_list.len());
        for id in &req.coupons_card_list {
            let coupon = self.find(id.as_str(), by_scan_code).ok_or_else(|| {
                ZvcmsError::business(UNKNOWN_COUPON, "优惠券不存在: no such coupon")
            })?;
            if !by_scan_code && req.customer_id != Some(coupon.customer_id) {
                return Err(ZvcmsError::business(
                    NOT_THE_CUSTOMERS,
                    "优惠券不属于该会员: the coupon is another customer's",
                ));
            }
            if req.use_count.is_some() && !coupon.multi_use {
                return Err(ZvcmsError::business(
                    NOT_MULTI_USE,
                    "非次券: useCount is for multi-use coupons",
                ));
            }
            if coupon.uses_left < uses {
                return Err(ZvcmsError::business(USED_UP, "优惠券已使用: no use left"));
            }
            if card_ids.contains(&coupon.card_id) {
                return Err(ZvcmsError::system(
                    INVALID_PARAMS,
                    "a coupon is listed twice",
                ));
            }
            card_ids.push(coupon.card_id.clone());
        }
        let mut holder = None;
        for card_id in &card_ids {
            if let Some(coupon) = self.coupons.get_mut(card_id) {
                // Checked above: at least `uses` are left.
                coupon.uses_left = coupon.uses_left.saturating_sub(uses);
                holder = Some(coupon.customer_id);
            }
        }
        Ok(json!({
            "bizId": req.biz_id,
            // JSON inside a string, bare integers, as the document's example.
            "cardIdList": card_id_list(&card_ids),
            "userInfo": {
                "customer_id": holder,
                "birthday": "", "username": "", "nickname": "", "phone": "",
                "gender": "", "province": "", "city": "", "district": ""
            }
        }))
    }

    pub(crate) fn dump(&self) -> Value {
        json!(self.coupons)
    }
}

/// `[390962138708451328,…]`: digits bare, anything else as a JSON string.
fn card_id_list(card_ids: &[String]) -> String {
    let items: Vec<String> = card_ids
        .iter()
        .map(|id| {
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                id.clone()
            } else {
                Value::String(id.clone()).to_string()
            }
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::zvcms::endpoints::VerifyCouponsArgs;
    use ::zvcms::wire::Id;

    fn request(ids: &[&str], customer: i64) -> VerifyCouponsRequest {
        VerifyCouponsRequest::new(VerifyCouponsArgs {
            biz_id: "b1".into(),
            coupons_card_list: ids.iter().map(|i| Id::new(*i)).collect(),
        })
        .customer_id(customer)
    }

    #[test]
    fn all_or_nothing_then_used_up() {
        let mut book = ZvcmsBook::default();
        book.add(ZvcmsCoupon::new("390962138708451328", 7));
        book.add(ZvcmsCoupon::new("390962138708451329", 8));
        let both = request(&["390962138708451328", "390962138708451329"], 7);
        assert_eq!(book.verify(&both).unwrap_err().code, NOT_THE_CUSTOMERS);
        assert_eq!(book.get("390962138708451328").unwrap().uses_left, 1);
        let data = book.verify(&request(&["390962138708451328"], 7)).unwrap();
        assert_eq!(data["cardIdList"], json!("[390962138708451328]"));
        assert_eq!(data["userInfo"]["customer_id"], json!(7));
        let again = book.verify(&request(&["390962138708451328"], 7));
        assert_eq!(again.unwrap_err().code, USED_UP);
        let unknown = book.verify(&request(&["1"], 7));
        assert_eq!(unknown.unwrap_err().code, UNKNOWN_COUPON);
        let twice = request(&["390962138708451329", "390962138708451329"], 8);
        assert_eq!(book.verify(&twice).unwrap_err().code, INVALID_PARAMS);
    }

    #[test]
    fn scan_codes_and_multi_use() {
        let mut book = ZvcmsBook::default();
        book.add(ZvcmsCoupon::new("11", 7).scan_code("S-1").multi_use(3));
        let scan = VerifyCouponsRequest::new(VerifyCouponsArgs {
            biz_id: "b".into(),
            coupons_card_list: vec![Id::new("S-1")],
        })
        .card_list_type(CardListType::ScanCode)
        .use_count(2);
        assert_eq!(book.verify(&scan).unwrap()["cardIdList"], json!("[11]"));
        assert_eq!(book.get("11").unwrap().uses_left, 1);
        assert_eq!(book.verify(&scan).unwrap_err().code, USED_UP);
        book.add(ZvcmsCoupon::new("12", 7));
        let counted = request(&["12"], 7).use_count(1);
        assert_eq!(book.verify(&counted).unwrap_err().code, NOT_MULTI_USE);
        assert_eq!(card_id_list(&["a\"b".into()]), r#"["a\"b"]"#);
    }
}
