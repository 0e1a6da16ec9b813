//! Test controls of the zvcms coupons: in process on [`Controls`], and over HTTP
//!
//! | method and path | body | does |
//! | --- | --- | --- |
//! | `POST /__sandbox/zvcms/coupons` | `{"card_id": "390962138708451328", "customer_id": 10086, "scan_code": "…", "uses": 3}` (`scan_code` optional; `uses`: a multi-use coupon with that many uses) | adds (or replaces) a coupon; answers it |
//! | `GET /__sandbox/zvcms/coupons/{card_id}` | | the coupon, with its uses left (404 if none) |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::controls::{Controls, axum_json, bad_request, body, not_found};
use crate::server::Shared;
use crate::state::zvcms_coupons::ZvcmsCoupon;

impl Controls {
    /// Adds (or replaces) a zvcms coupon, redeemable through `/api/v2`.
    pub fn zvcms_add_coupon(&self, coupon: ZvcmsCoupon) {
        self.shared().world().zvcms.add(coupon);
        self.shared().save();
    }

    /// A zvcms coupon by card id, with its uses left.
    pub fn zvcms_coupon(&self, card_id: &str) -> Option<ZvcmsCoupon> {
        self.shared().world().zvcms.get(card_id).cloned()
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sandbox/zvcms/coupons", post(add_coupon))
        .route("/__sandbox/zvcms/coupons/{card_id}", get(coupon))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCoupon {
    card_id: String,
    customer_id: i64,
    #[serde(default)]
    scan_code: Option<String>,
    #[serde(default)]
    uses: Option<u32>,
}

async fn add_coupon(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let new = match body::<NewCoupon>(&bytes) {
        Ok(new) => new,
        Err(e) => return bad_request(e),
    };
    if new.card_id.is_empty() {
        return bad_request("card_id must not be empty");
    }
    let mut coupon = ZvcmsCoupon::new(new.card_id, new.customer_id);
    if let Some(code) = new.scan_code {
        coupon = coupon.scan_code(code);
    }
    if let Some(uses) = new.uses {
        coupon = coupon.multi_use(uses);
    }
    Controls::new(shared).zvcms_add_coupon(coupon.clone());
    axum_json(&coupon)
}

async fn coupon(State(shared): State<Arc<Shared>>, Path(card_id): Path<String>) -> Response {
    match Controls::new(shared).zvcms_coupon(&card_id) {
        Some(c) => axum_json(&c),
        None => not_found(format!("no zvcms coupon {card_id}")),
    }
}
