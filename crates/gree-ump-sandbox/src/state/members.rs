//! 3.1, 3.2, 3.6–3.8: members, member codes and levels.
//!
//! - A member is identified by its `open_id`; every call whose `open_id` field the
//!   document describes as 会员唯一标识 或者电话 also accepts the member's phone there.
//! - 3.1 with a phone that is already registered answers the existing member's open_id
//!   and changes nothing (register-or-get), so a retried registration cannot create a
//!   twin. An empty phone is 110001 (手机号不能为空); a phone that is not 11 digits
//!   starting with 1 is 1001.
//! - The level follows the growth value (the highest level whose threshold it reaches).
//!   `next_level_growth_value` is the next level's threshold (下个等级所需成长值); at the
//!   highest level the `next_level_*` fields repeat the current level and
//!   `is_max_level` is 1.
//! - Member codes (3.6) are valid for `member_code_ttl_ms` (60 s by default) and may be
//!   scanned any number of times until then; a newer code does not cancel older ones.
//!   An unknown or expired code is 110006 (会员码已失效, errata E20).
//! - Replies follow the shape of the 3.2/3.7 examples (what the server sends): the level
//!   number travels as `level_num`, `project_id` as a number when it is one, `rights` as
//!   a JSON string (or `null`), and the profile fields of 3.1 are included.

use gree_ump::ErrorCode;
use gree_ump::endpoints::{
    CreateMemberRequest, GenerateMemberCodeRequest, ListLevelsRequest, ParseMemberCodeRequest,
    QueryMemberRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::points::LedgerEntry;
use super::tracked::Tracked;
use super::{Reply, World, is_valid_phone, paginate};
use crate::config::LevelConfig;
use crate::error::{ApiError, ApiResult};

/// A registered member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Member {
    pub open_id: String,
    pub user_num: String,
    /// The registration request as received.
    pub profile: CreateMemberRequest,
    pub register_time_ms: i64,
    /// Points currently available (3.2 `score`).
    pub score: i64,
    /// Growth value (3.2 `growth_value`): grows with the points credited by 3.3 and 4.1,
    /// shrinks when those credits are rolled back or refunded; spending does not lower it.
    pub growth_value: i64,
    /// The member's point ledger, oldest first.
    pub ledger: Vec<LedgerEntry>,
}

/// A 3.6 member code as issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemberCode {
    pub open_id: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// Every member, by open_id and by phone, and the member codes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct MemberBook {
    pub(crate) by_open_id: Tracked<String, Member>,
    pub(crate) by_phone: Tracked<String, String>,
    pub(crate) codes: Tracked<String, MemberCode>,
}

impl MemberBook {
    /// The open_id of the member an `open_id`-or-phone value designates.
    pub(crate) fn resolve(&self, id_or_phone: &str) -> ApiResult<String> {
        let key = id_or_phone.trim();
        if key.is_empty() {
            return Err(ApiError::of(ErrorCode::OpenIdOrPhoneRequired));
        }
        if self.by_open_id.contains_key(key) {
            return Ok(key.to_owned());
        }
        self.by_phone
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::with(ErrorCode::MemberNotFound, key))
    }

    /// The member with this open_id (or phone), if any.
    pub(crate) fn find(&self, id_or_phone: &str) -> Option<&Member> {
        let open_id = self.resolve(id_or_phone).ok()?;
        self.by_open_id.get(&open_id)
    }

    pub(crate) fn get_mut(&mut self, open_id: &str) -> ApiResult<&mut Member> {
        self.by_open_id
            .get_mut(open_id)
            .ok_or_else(|| ApiError::with(ErrorCode::MemberNotFound, open_id))
    }

    pub(crate) fn get(&self, open_id: &str) -> ApiResult<&Member> {
        self.by_open_id
            .get(open_id)
            .ok_or_else(|| ApiError::with(ErrorCode::MemberNotFound, open_id))
    }

    /// The member a call designates by `open_id` or, failing that, `phone` (3.2, 4.x):
    /// `invalid_phone` is the code for a malformed phone (120001 in orders, none in 3.2).
    pub(crate) fn resolve_either(
        &self,
        open_id: Option<&str>,
        phone: Option<&str>,
        invalid_phone: Option<ErrorCode>,
    ) -> ApiResult<String> {
        let open_id = open_id.map(str::trim).filter(|s| !s.is_empty());
        let phone = phone.map(str::trim).filter(|s| !s.is_empty());
        match (open_id, phone) {
            // open_id wins when both are sent: it is the member's identity.
            (Some(id), _) => self.resolve(id),
            (None, Some(phone)) => {
                if let Some(code) = invalid_phone
                    && !is_valid_phone(phone)
                {
                    return Err(ApiError::with(code, phone));
                }
                self.by_phone
                    .get(phone)
                    .cloned()
                    .ok_or_else(|| ApiError::with(ErrorCode::MemberNotFound, phone))
            }
            (None, None) => Err(ApiError::of(ErrorCode::OpenIdOrPhoneRequired)),
        }
    }
}

/// Where a growth value stands among the levels (sorted by threshold, never empty).
pub(crate) struct LevelStanding<'a> {
    pub current: &'a LevelConfig,
    pub next: Option<&'a LevelConfig>,
}

pub(crate) fn standing(levels: &[LevelConfig], growth: i64) -> Option<LevelStanding<'_>> {
    let index = levels
        .iter()
        .rposition(|l| l.growth_threshold <= growth)
        .unwrap_or(0);
    Some(LevelStanding {
        current: levels.get(index)?,
        next: levels.get(index + 1),
    })
}

/// `project_id` as the 3.2 example sends it: a number when it is one.
#[cfg(test)]
fn project_id_value(project_id: &str) -> Value {
    match project_id.trim().parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(project_id),
    }
}

/// `project_id` as the 3.2 example sends it: a number when it is one.
#[derive(Serialize)]
#[serde(untagged)]
enum ProjectId<'a> {
    Number(i64),
    Text(&'a str),
}

impl<'a> ProjectId<'a> {
    fn of(project_id: &'a str) -> Self {
        match project_id.trim().parse::<i64>() {
            Ok(n) => ProjectId::Number(n),
            Err(_) => ProjectId::Text(project_id),
        }
    }
}

/// The 3.2/3.7 `data` of a member, borrowed from the world: serialized as it stands,
/// with no map built. The fields are in the order of the keys of the `json!` map it
/// replaces (serde_json's map sorts its keys), so the bytes are the same.
#[derive(Serialize)]
pub(crate) struct MemberInfo<'a> {
    avatar_img_url: &'a Option<String>,
    birthday: Option<String>,
    city: &'a Option<String>,
    country: &'a Option<String>,
    coupon_num: i64,
    email: &'a Option<String>,
    gender: i64,
    growth_value: i64,
    id_card: &'a Option<String>,
    is_max_level: i64,
    level_name: Option<&'a str>,
    level_num: Option<i64>,
    next_level_growth_value: Option<i64>,
    next_level_name: Option<&'a str>,
    next_level_num: Option<i64>,
    nickname: &'a str,
    open_id: &'a str,
    phone: &'a str,
    project_id: ProjectId<'a>,
    province: &'a Option<String>,
    q_id: &'a Option<String>,
    realname: &'a Option<String>,
    register_time: i64,
    remark: &'a Option<String>,
    rights: Option<String>,
    score: i64,
    user_num: &'a str,
}

/// A member's `data` as a JSON value (for [`World::query_member`] and
/// [`World::parse_member_code`]; the gateway serializes the [`MemberInfo`] itself).
fn member_value(info: &MemberInfo<'_>) -> Value {
    serde_json::to_value(info).unwrap_or_default()
}

/// A member's `data` serialized (it has no map with keys that are not strings, so it
/// cannot fail; if it did, the answer would be "busy", not a panic).
fn raw(info: &MemberInfo<'_>) -> ApiResult<Box<RawValue>> {
    serde_json::value::to_raw_value(info).map_err(|_| ApiError::of(ErrorCode::SystemBusy))
}

impl World {
    /// The 3.2/3.7 `data` of a member.
    pub(crate) fn member_info<'a>(&'a self, member: &'a Member, now_ms: i64) -> MemberInfo<'a> {
        let p = &member.profile;
        let standing = standing(&self.levels, member.growth_value);
        let (level_num, level_name, rights) = match &standing {
            Some(s) => (
                Some(s.current.number),
                Some(s.current.name.as_str()),
                if s.current.rights.is_empty() {
                    None
                } else {
                    serde_json::to_string(&s.current.rights).ok()
                },
            ),
            None => (None, None, None),
        };
        let (next_growth, next_name, next_num, is_max) = match &standing {
            Some(LevelStanding {
                next: Some(next), ..
            }) => (
                Some(next.growth_threshold),
                Some(next.name.as_str()),
                Some(next.number),
                0,
            ),
            Some(LevelStanding {
                current,
                next: None,
            }) => (
                Some(current.growth_threshold),
                Some(current.name.as_str()),
                Some(current.number),
                1,
            ),
            None => (None, None, None, 1),
        };
        MemberInfo {
            avatar_img_url: &p.avatar_img_url,
            birthday: p.birthday.as_ref().map(ToString::to_string),
            city: &p.city,
            country: &p.country,
            coupon_num: self.coupons.valid_count(&member.open_id, now_ms),
            email: &p.email,
            gender: p.gender.map_or(0, |g| g.code()),
            growth_value: member.growth_value,
            id_card: &p.id_card,
            is_max_level: is_max,
            level_name,
            level_num,
            next_level_growth_value: next_growth,
            next_level_name: next_name,
            next_level_num: next_num,
            nickname: &p.nickname,
            open_id: &member.open_id,
            phone: &p.phone,
            project_id: ProjectId::of(&p.project_id),
            province: &p.province,
            q_id: &p.q_id,
            realname: &p.realname,
            register_time: member.register_time_ms,
            remark: &p.remark,
            rights,
            score: member.score,
            user_num: &member.user_num,
        }
    }

    /// 3.1 `wk.user.info.add`: `data` is the member's open_id.
    pub fn create_member(&mut self, req: CreateMemberRequest, now_ms: i64) -> ApiResult<Reply> {
        let phone = req.phone.trim().to_owned();
        if phone.is_empty() {
            return Err(ApiError::of(ErrorCode::PhoneRequired));
        }
        if !is_valid_phone(&phone) {
            return Err(ApiError::invalid(format!(
                "phone must be 11 digits starting with 1, got {phone:?}"
            )));
        }
        if let Some(open_id) = self.members.by_phone.get(&phone) {
            return Ok(Reply::data(json!(open_id)));
        }
        let open_id = self.ids.open_id();
        let user_num = self.ids.user_num();
        let mut profile = req;
        profile.phone = phone.clone();
        self.members.by_phone.insert(phone, open_id.clone());
        self.members.by_open_id.insert(
            open_id.clone(),
            Member {
                open_id: open_id.clone(),
                user_num,
                profile,
                register_time_ms: now_ms,
                score: 0,
                growth_value: 0,
                ledger: Vec::new(),
            },
        );
        Ok(Reply::data(json!(open_id)))
    }

    /// The member a 3.2 query names (by open id or phone).
    fn queried_member(&self, req: &QueryMemberRequest) -> ApiResult<&Member> {
        let open_id =
            self.members
                .resolve_either(req.open_id.as_deref(), req.phone.as_deref(), None)?;
        self.members.get(&open_id)
    }

    /// 3.2 `wk.user.info.query`.
    pub fn query_member(&self, req: &QueryMemberRequest, now_ms: i64) -> ApiResult<Reply> {
        let member = self.queried_member(req)?;
        Ok(Reply::data(member_value(&self.member_info(member, now_ms))))
    }

    /// 3.2 as the gateway answers it: the member's `data` serialized from the world as it
    /// stands, with no JSON value built.
    pub(crate) fn query_member_raw(
        &self,
        req: &QueryMemberRequest,
        now_ms: i64,
    ) -> ApiResult<Box<RawValue>> {
        raw(&self.member_info(self.queried_member(req)?, now_ms))
    }

    /// 3.6 `wk.user.code.generate`: `data` is a 20-digit code.
    pub fn generate_member_code(
        &mut self,
        req: &GenerateMemberCodeRequest,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        let open_id = self.members.resolve(&req.open_id)?;
        let mut code = self.ids.member_code(now_ms);
        while self.members.codes.contains_key(&code) {
            code = self.ids.member_code(now_ms);
        }
        self.members.codes.insert(
            code.clone(),
            MemberCode {
                open_id,
                issued_ms: now_ms,
                expires_ms: now_ms.saturating_add(self.config.member_code_ttl_ms),
            },
        );
        Ok(Reply::data(json!(code)))
    }

    /// The member of a 3.7 code, unless the code is unknown or expired.
    fn coded_member(&self, req: &ParseMemberCodeRequest, now_ms: i64) -> ApiResult<&Member> {
        let code = req.code.trim();
        let entry = self
            .members
            .codes
            .get(code)
            // The code is quoted back, as gateways do: a client must not read the
            // customer's scan as the platform's own words.
            .ok_or_else(|| {
                ApiError::with(
                    ErrorCode::MemberCodeExpired,
                    format!("unknown code {}", quoted(code)),
                )
            })?;
        if now_ms >= entry.expires_ms {
            return Err(ApiError::with(ErrorCode::MemberCodeExpired, "code expired"));
        }
        self.members.get(&entry.open_id)
    }

    /// 3.7 `wk.user.code.parsing`.
    pub fn parse_member_code(&self, req: &ParseMemberCodeRequest, now_ms: i64) -> ApiResult<Reply> {
        let member = self.coded_member(req, now_ms)?;
        Ok(Reply::data(member_value(&self.member_info(member, now_ms))))
    }

    /// 3.7 as the gateway answers it (see [`World::query_member_raw`]).
    pub(crate) fn parse_member_code_raw(
        &self,
        req: &ParseMemberCodeRequest,
        now_ms: i64,
    ) -> ApiResult<Box<RawValue>> {
        raw(&self.member_info(self.coded_member(req, now_ms)?, now_ms))
    }

    /// 3.8 `wk.user.level.list` (defaults: page 1, 10 per page).
    pub fn list_levels(&self, req: &ListLevelsRequest) -> ApiResult<Reply> {
        let rows: Vec<Value> = self
            .levels
            .iter()
            .map(|l| json!({"level_name": l.name, "level_number": l.number, "id": l.id}))
            .collect();
        let (rows, page) = paginate(
            &rows,
            i64::from(req.page_no.unwrap_or(1)),
            i64::from(req.page_size.unwrap_or(10)),
        )?;
        Ok(Reply {
            data: Value::Array(rows),
            page: Some(page),
        })
    }

    /// Test control: sets a member's growth value (and so its level).
    pub fn set_growth_value(&mut self, id_or_phone: &str, growth_value: i64) -> ApiResult<()> {
        let open_id = self.members.resolve(id_or_phone)?;
        self.members.get_mut(&open_id)?.growth_value = growth_value.max(0);
        Ok(())
    }
}

/// A caller's value as the sandbox quotes it in a message: at most 64 characters.
fn quoted(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_levels;

    #[test]
    fn standing_follows_thresholds() {
        let levels = default_levels();
        let s = standing(&levels, 0).unwrap();
        assert_eq!(s.current.number, 1);
        assert_eq!(s.next.unwrap().growth_threshold, 300);
        let s = standing(&levels, 300).unwrap();
        assert_eq!(s.current.number, 2);
        let s = standing(&levels, 1_000_000).unwrap();
        assert_eq!(s.current.number, 7);
        assert!(s.next.is_none());
        // Below the first threshold (a custom first level above 0): the first level.
        let s = standing(&levels[1..], 0).unwrap();
        assert_eq!(s.current.number, 2);
    }

    /// The `json!` map `member_info` built before it was a borrowed struct, kept to show
    /// that the struct serializes to the same bytes.
    fn old_member_info(world: &World, member: &Member, now_ms: i64) -> Value {
        let p = &member.profile;
        let standing = standing(&world.levels, member.growth_value);
        let (level_num, level_name, rights) = match &standing {
            Some(s) => (
                json!(s.current.number),
                json!(s.current.name),
                if s.current.rights.is_empty() {
                    Value::Null
                } else {
                    serde_json::to_string(&s.current.rights).map_or(Value::Null, Value::String)
                },
            ),
            None => (Value::Null, Value::Null, Value::Null),
        };
        let (next_growth, next_name, next_num, is_max) = match &standing {
            Some(LevelStanding {
                next: Some(next), ..
            }) => (
                json!(next.growth_threshold),
                json!(next.name),
                json!(next.number),
                0,
            ),
            Some(LevelStanding {
                current,
                next: None,
            }) => (
                json!(current.growth_threshold),
                json!(current.name),
                json!(current.number),
                1,
            ),
            None => (Value::Null, Value::Null, Value::Null, 1),
        };
        json!({
            "open_id": member.open_id,
            "nickname": p.nickname,
            "realname": p.realname,
            "gender": p.gender.map_or(0, |g| g.code()),
            "level_num": level_num,
            "level_name": level_name,
            "score": member.score,
            "growth_value": member.growth_value,
            "coupon_num": world.coupons.valid_count(&member.open_id, now_ms),
            "birthday": p.birthday.as_ref().map(ToString::to_string),
            "rights": rights,
            "q_id": p.q_id,
            "register_time": member.register_time_ms,
            "next_level_growth_value": next_growth,
            "next_level_name": next_name,
            "next_level_num": next_num,
            "is_max_level": is_max,
            "country": p.country,
            "province": p.province,
            "city": p.city,
            "id_card": p.id_card,
            "remark": p.remark,
            "avatar_img_url": p.avatar_img_url,
            "project_id": project_id_value(&p.project_id),
            "email": p.email,
            "phone": p.phone,
            "user_num": member.user_num,
        })
    }

    fn member(world: &mut World, phone: &str, project_id: &str, full: bool) -> String {
        let mut req = CreateMemberRequest::new(gree_ump::endpoints::CreateMemberArgs {
            project_id: project_id.into(),
            nickname: "张三 \"q\"\n".into(),
            phone: phone.into(),
        });
        if full {
            req.q_id = Some("q-1".into());
            req.realname = Some("张三".into());
            req.avatar_img_url = Some("https://example.com/a.png?x=1&y=<2>".into());
            req.gender = Some(gree_ump::models::Gender::Unknown(7));
            req.birthday = "2019-02-27".parse().ok();
            req.country = Some("中国".into());
            req.province = Some(String::new());
            req.city = Some("珠海".into());
            req.id_card = Some("4404".into());
            req.email = Some("a@b.c".into());
            req.remark = Some("没有备注\u{1}".into());
        }
        let reply = world.create_member(req, 1_700_000_000_000).unwrap();
        reply.data.as_str().unwrap().to_owned()
    }

    #[test]
    fn member_info_serializes_as_the_old_map() {
        let mut world = World::new(crate::SandboxConfig::default(), 7);
        let members = [
            member(&mut world, "13800000001", "18756", false),
            member(&mut world, "13800000002", " 42 ", true),
            member(&mut world, "13800000003", "store-9", true),
            member(&mut world, "13800000004", "-3", false),
        ];
        let growths = [0, 299, 300, 5_000, 1_000_000, i64::MAX];
        let mut checked = 0;
        for levels in [world.levels.clone(), Vec::new(), world.levels[..1].to_vec()] {
            world.levels = levels;
            for (i, open_id) in members.iter().enumerate() {
                for growth in growths {
                    world.members.get_mut(open_id).unwrap().growth_value = growth;
                    world.members.get_mut(open_id).unwrap().score = growth.wrapping_mul(i as i64);
                    let member = world.members.get(open_id).unwrap();
                    let now = 1_700_000_000_000;
                    let new = serde_json::to_vec(&world.member_info(member, now)).unwrap();
                    let old = serde_json::to_vec(&old_member_info(&world, member, now)).unwrap();
                    assert_eq!(
                        String::from_utf8(new).unwrap(),
                        String::from_utf8(old).unwrap()
                    );
                    // The value the public API answers is the same too.
                    assert_eq!(
                        member_value(&world.member_info(member, now)),
                        old_member_info(&world, member, now)
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 72);
    }
}
