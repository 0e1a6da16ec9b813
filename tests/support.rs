//! Shared helpers of the workspace-level tests and of the fuzz target.

pub mod doc_requests;
pub mod stub_platform;

use gree_ump::PROTOCOL;
use gree_ump::endpoints::*;
use openplatform_runtime::{Error, decode_response};

/// Decodes `body` as the reply of every endpoint; returns how many decoded as success.
pub fn decode_as_every_endpoint(status: u16, body: &[u8]) -> usize {
    macro_rules! each {
        ($($t:ty),* $(,)?) => {{
            let mut ok = 0;
            $(
                match decode_response::<$t>(&PROTOCOL, status, body) {
                    Ok(_) => ok += 1,
                    // Every error renders, and names its method.
                    Err(e) => {
                        let text = e.to_string();
                        assert!(text.contains(<$t as gree_ump::Endpoint>::INFO.method), "{text}");
                        let _ = format!("{e:?}");
                        check_kind(&e);
                    }
                }
            )*
            ok
        }};
    }
    each!(
        ObtainTokenRequest,
        RefreshAccessTokenRequest,
        CreateMemberRequest,
        QueryMemberRequest,
        ChangePointsRequest,
        RollbackPointsRequest,
        RollbackPointsPartiallyRequest,
        ListPointRecordsRequest,
        GenerateMemberCodeRequest,
        ParseMemberCodeRequest,
        ListLevelsRequest,
        AddOrderRequest,
        RefundOrderRequest,
        RefundOrderPartiallyRequest,
        AddCouponTemplateRequest,
        GiveCouponsRequest,
        SyncCouponStatusRequest,
        VerifyCouponsRequest,
        ListUserCouponsRequest,
        SendSmsCodeRequest,
        VerifySmsCodeRequest,
    )
}

fn check_kind<C: gree_ump::ApiErrorCode>(e: &Error<C>) {
    match e {
        Error::Api(a) => assert_eq!(a.code.code(), a.raw_code),
        Error::Decode(d) => assert!(!d.reason.is_empty()),
        Error::Http(h) => assert!(!(200..300).contains(&h.status)),
        other => panic!("a reply cannot yield {other:?}"),
    }
}

/// The workspace README's code blocks, compiled as doc tests so its snippets cannot rot.
/// (Each published crate tests its own package README; this one is not in any package.)
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct WorkspaceReadmeDoctests;
