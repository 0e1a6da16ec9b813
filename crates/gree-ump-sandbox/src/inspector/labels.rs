//! Field labels in both languages: the spec's Chinese `doc` and English `gloss` of the
//! field a column shows (a unit test checks each against api-spec/gree-ump.yaml), or,
//! for what only the sandbox keeps, its own words in both languages.

/// A column's label.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Label {
    pub(crate) zh: &'static str,
    pub(crate) en: &'static str,
}

/// A label whose words are the spec's.
const fn spec(zh: &'static str, en: &'static str) -> Label {
    Label { zh, en }
}

/// A label of the sandbox's own (the spec has no such field).
const fn own(zh: &'static str, en: &'static str) -> Label {
    Label { zh, en }
}

pub(crate) const OPEN_ID: Label = spec("会员外部系统唯一标识", "Member's unique identifier");
pub(crate) const PHONE: Label = spec("用户手机号", "Mobile phone number");
pub(crate) const NICKNAME: Label = spec("用户昵称", "Nickname");
pub(crate) const REALNAME: Label = spec("会员实际姓名", "Real name");
pub(crate) const PROJECT_ID: Label = spec(
    "项目Id, 即门店Id, 新增对接门店需要向会员平台索要对应门店Id",
    "Project (store) id, assigned by the platform to each connected store",
);
pub(crate) const SCORE: Label = spec("会员当前可用积分值", "Points currently available");
pub(crate) const GROWTH_VALUE: Label = spec("当前会员的成长值", "Current growth value");
pub(crate) const LEVEL_NAME: Label = spec("会员等级名称", "Membership level name");
pub(crate) const REGISTER_TIME: Label =
    spec("会员的注册时间, 时间戳, 精确到毫秒", "Registration time");

pub(crate) const ENTRY_ID: Label = spec("积分ID", "Entry identifier");
pub(crate) const STATEMENT_ID: Label = spec("积分变动流水Id", "Point statement identifier");
pub(crate) const AMOUNT: Label = spec("积分数量", "Points");
pub(crate) const DESC: Label = spec("积分描述", "Description");
pub(crate) const BALANCE_AFTER: Label = own("变动后积分", "Balance after");
pub(crate) const METHOD: Label = own("接口方法", "Method");
pub(crate) const TIME: Label = own("时间", "Time");

pub(crate) const ORDER_NO: Label = spec("订单编号", "Order number");
pub(crate) const ORDER_AMOUNT: Label = spec("订单金额", "Order amount, in yuan");
pub(crate) const ORDER_SCORE: Label =
    spec("这笔订单需要发放的积分", "Points to award for this order");
pub(crate) const CONSUME_DATE: Label = spec("消费时间", "Purchase time");
pub(crate) const REFUNDED: Label = own("已退金额", "Refunded, in yuan");
pub(crate) const RETURN_ORDER_NO: Label = spec("退货单编号", "Return order number");
pub(crate) const RETURN_AMOUNT: Label = spec("退货单金额", "Return order amount, in yuan");

pub(crate) const COUPON_CODE: Label =
    spec("优惠券码", "Platform coupon code (19 digits, kept as text)");
pub(crate) const THIRD_COUPON_CODE: Label = spec(
    "第三方卷码",
    "The caller's coupon code (coupon_number of the grant)",
);
pub(crate) const COUPON_NAME: Label = spec("优惠券名称", "Coupon name");
pub(crate) const COUPON_STATUS: Label = spec(
    "状态：枚举值->0-无效/删除； 1-有效； 2-已经使用； 3-使用中； 4-未开始",
    "State of the coupon",
);
pub(crate) const BEGIN_TIME: Label = spec("有效期的开始时间", "Start of the validity period");
pub(crate) const END_TIME: Label = spec("有效期的结束时间", "End of the validity period");
pub(crate) const USE_ORDER_NO: Label = spec("关联订单号", "Order the coupon was used on");

pub(crate) const TARGET: Label = spec("目标人电话", "Phone number to send the code to");
pub(crate) const VERIFY_CODE: Label = spec("验证码", "Verification code");

/// The labels that claim the spec's words, for the test.
#[cfg(test)]
const FROM_SPEC: &[Label] = &[
    OPEN_ID,
    PHONE,
    NICKNAME,
    REALNAME,
    PROJECT_ID,
    SCORE,
    GROWTH_VALUE,
    LEVEL_NAME,
    REGISTER_TIME,
    ENTRY_ID,
    STATEMENT_ID,
    AMOUNT,
    DESC,
    ORDER_NO,
    ORDER_AMOUNT,
    ORDER_SCORE,
    CONSUME_DATE,
    RETURN_ORDER_NO,
    RETURN_AMOUNT,
    COUPON_CODE,
    THIRD_COUPON_CODE,
    COUPON_NAME,
    COUPON_STATUS,
    BEGIN_TIME,
    END_TIME,
    USE_ORDER_NO,
    TARGET,
    VERIFY_CODE,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each spec label is some field's `doc` followed by its `gloss`, word for word.
    #[test]
    fn spec_labels_are_the_specs_words() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../api-spec/gree-ump.yaml");
        let spec = std::fs::read_to_string(path).expect("the spec");
        let lines: Vec<&str> = spec.lines().map(str::trim).collect();
        let unquote = |s: &str| s.trim_matches('"').to_owned();
        let pairs: Vec<(String, String)> = lines
            .windows(2)
            .filter_map(|w| {
                let doc = w[0].strip_prefix("doc: ")?;
                let gloss = w[1].strip_prefix("gloss: ")?;
                Some((unquote(doc), unquote(gloss)))
            })
            .collect();
        for label in FROM_SPEC {
            assert!(
                pairs.iter().any(|(d, g)| d == label.zh && g == label.en),
                "{} / {} is no field's doc and gloss in the spec",
                label.zh,
                label.en
            );
        }
    }
}
