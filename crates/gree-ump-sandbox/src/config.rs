//! What a sandbox is started with: credentials, limits, lifetimes, levels, point events.
//!
//! Defaults are the document's values where it states them (token lifetimes and daily
//! limits, the 3 s timestamp window, the seven levels of 3.8) and documented choices
//! where it is silent (member code and SMS code lifetimes, the SMS daily limit).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::zvcms_api::ZvcmsConfig;

/// The app id the sandbox accepts by default: the one in the document's 2.1 example URL.
pub const DEFAULT_APP_ID: &str = "wkb1ag2hdad7e6jw1r";
/// The app secret the sandbox accepts by default.
pub const DEFAULT_APP_SECRET: &str = "sandbox-app-secret";

/// One membership level: reached when the growth value is at least `growth_threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelConfig {
    /// The level's id (3.8 `id`).
    pub id: i64,
    /// The level number (3.8 `level_number`), 1 for the lowest.
    pub number: i64,
    /// The level's name (3.8 `level_name`, 一级会员…).
    pub name: String,
    /// The growth value from which a member is at this level.
    pub growth_threshold: i64,
    /// The rights of the level (3.2 `rights`, sent as a JSON string; `null` when empty).
    pub rights: Vec<LevelRight>,
}

impl LevelConfig {
    /// A level without rights: its id, number, name and the growth value that reaches it.
    pub fn new(id: i64, number: i64, name: impl Into<String>, growth_threshold: i64) -> Self {
        LevelConfig {
            id,
            number,
            name: name.into(),
            growth_threshold,
            rights: Vec::new(),
        }
    }

    /// The level with these rights.
    #[must_use]
    pub fn with_rights(mut self, rights: Vec<LevelRight>) -> Self {
        self.rights = rights;
        self
    }
}

/// One membership right (3.2 `rights` element: `id`, `name`, `imgUrl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelRight {
    /// The right's id.
    pub id: i64,
    /// The right's name (免费停车).
    pub name: String,
    /// The URL of its icon (`imgUrl`).
    #[serde(rename = "imgUrl")]
    pub img_url: String,
}

impl LevelRight {
    /// A right with this id, name and icon URL.
    pub fn new(id: i64, name: impl Into<String>, img_url: impl Into<String>) -> Self {
        LevelRight {
            id,
            name: name.into(),
            img_url: img_url.into(),
        }
    }
}

/// The document's seven levels (3.8 response example: names, numbers and ids). The
/// document gives only the first threshold (300 for level 2, from the 3.2 example); the
/// others are this sandbox's choice. Levels from 2 up carry the right of the 3.2 table
/// example (免费停车), so clients see `rights` both as `null` and as a JSON string.
pub fn default_levels() -> Vec<LevelConfig> {
    let parking = || vec![LevelRight::new(1, "免费停车", "https://img.url")];
    vec![
        LevelConfig::new(76, 1, "一级会员", 0),
        LevelConfig::new(82, 2, "二级会员", 300).with_rights(parking()),
        LevelConfig::new(77, 3, "三级会员", 1_000).with_rights(parking()),
        LevelConfig::new(80, 4, "四级会员", 3_000).with_rights(parking()),
        LevelConfig::new(83, 5, "五级会员", 6_000).with_rights(parking()),
        LevelConfig::new(81, 6, "六级会员", 10_000).with_rights(parking()),
        LevelConfig::new(85, 7, "七级会员", 20_000).with_rights(parking()),
    ]
}

/// Whether a point event adds or removes points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointDirection {
    /// The event adds points (and growth value).
    Credit,
    /// The event removes points; more than the balance is 150008.
    Debit,
}

/// A point event registered on the platform (3.3 `change_event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointEvent {
    /// The event's name, as 3.3 `change_event` sends it (`event_add`).
    pub name: String,
    /// Whether the event adds or removes points.
    pub direction: PointDirection,
}

impl PointEvent {
    /// An event of this name and direction.
    pub fn new(name: impl Into<String>, direction: PointDirection) -> Self {
        PointEvent {
            name: name.into(),
            direction,
        }
    }
}

/// The document's two events (3.3: `event_add/event_subtract(增/减)`).
pub fn default_point_events() -> Vec<PointEvent> {
    vec![
        PointEvent::new("event_add", PointDirection::Credit),
        PointEvent::new("event_subtract", PointDirection::Debit),
    ]
}

/// Which calls the timestamp window (`timestamp_tolerance_ms`) applies to (errata E73).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimestampScope {
    /// Only 2.1 and 2.2, the two sections whose tables say 必须是北京时间3秒内的时间戳:
    /// the document's reading, and the default. Other calls still need a `timestamp` of
    /// milliseconds, at any distance from the clock.
    #[default]
    TokenCalls,
    /// Every call: the strict reading, for clients that want to prove their clock
    /// handling against a platform that checks the window everywhere.
    EveryCall,
}

impl TimestampScope {
    /// Whether the window applies to a call that needs `credential`.
    pub fn applies_to(self, credential: openplatform_runtime::Credential) -> bool {
        match self {
            TimestampScope::EveryCall => true,
            TimestampScope::TokenCalls => {
                !matches!(credential, openplatform_runtime::Credential::AccessToken)
            }
        }
    }
}

/// How a business call's invalid, expired or revoked access token is answered (errata
/// E02, E85): the document names no code, so the sandbox can take each plausible
/// reading of it, for clients that want to prove they survive every one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidTokenAnswer {
    /// The spec's invalid-token code (1002, `access_token无效或已过期`): the default.
    #[default]
    SpecCode,
    /// The gateway's generic parameter error, with no token word: `1001 请求参数不合法`.
    GenericParameterError,
    /// 1001 with a Chinese token phrase: `1001 token已过期`.
    ExpiredPhrase,
    /// 1001 with an English token phrase: `1001 invalid access_token`.
    EnglishPhrase,
}

impl InvalidTokenAnswer {
    /// The reply's code and message.
    pub fn code_and_message(self) -> (i64, &'static str) {
        match self {
            InvalidTokenAnswer::SpecCode => (1002, "access_token无效或已过期"),
            InvalidTokenAnswer::GenericParameterError => (1001, "请求参数不合法"),
            InvalidTokenAnswer::ExpiredPhrase => (1001, "token已过期"),
            InvalidTokenAnswer::EnglishPhrase => (1001, "invalid access_token"),
        }
    }
}

/// Which verbs the gateway takes (errata E01): the document marks 3.8, 5.4 and 5.5 GET
/// while its general rule and every example send a JSON body by POST, so the sandbox can
/// take either reading, for clients that want to prove they survive both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VerbReading {
    /// POST everywhere, and GET too where the document marks GET (the business fields
    /// then in the query): the default, E01's decision.
    #[default]
    Lenient,
    /// Only the verb each section marks: the other is refused with the gateway's
    /// parameter error, naming the verb to use (`1001 请求方式 POST 不支持, 请使用 GET`).
    Document,
    /// Only the verb each section marks: the other is refused with HTTP 405 and an
    /// `Allow` header, as a web server's router refuses it.
    DocumentHttp405,
}

/// How a sandbox is started. `SandboxConfig::default()` is ready to use; change fields or
/// use the `with_*` methods.
#[derive(Clone)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one (the default).
    pub port: u16,
    /// The app id 2.1 accepts.
    pub app_id: String,
    /// The app secret every signature is checked with.
    pub app_secret: String,
    /// How far a request's `timestamp` may be from the sandbox clock on the calls of
    /// `timestamp_scope` (`None`: not checked anywhere). Default: the spec's
    /// `clock_tolerance_ms` (3000).
    pub timestamp_tolerance_ms: Option<i64>,
    /// Which calls the window applies to. Default [`TimestampScope::TokenCalls`] (2.1 and
    /// 2.2 only, as the document says; errata E73); `--strict-timestamps` or
    /// [`TimestampScope::EveryCall`] checks every call.
    pub timestamp_scope: TimestampScope,
    /// The sandbox clock's start (ms since the epoch); `None`: the system time.
    pub start_time_ms: Option<i64>,
    /// Access token lifetime (2.1/2.2 `expire_in`), seconds. Default 7200.
    pub access_token_lifetime_s: i64,
    /// Refresh token lifetime, seconds. Default one year (31 536 000).
    pub refresh_token_lifetime_s: i64,
    /// 2.1 issuances per Beijing day. Default 1.
    pub obtain_daily_limit: u32,
    /// 2.2 refreshes per Beijing day. Default 20.
    pub refresh_daily_limit: u32,
    /// How long a member code (3.6) stays valid, ms. Default 60 000.
    pub member_code_ttl_ms: i64,
    /// SMS codes sent to one phone per Beijing day (6.1). Default 10.
    pub sms_daily_limit: u32,
    /// How long an SMS code stays valid, ms. Default 300 000 (5 minutes).
    pub sms_code_ttl_ms: i64,
    /// Membership levels, lowest first. Default: the document's seven.
    pub levels: Vec<LevelConfig>,
    /// Registered point events (3.3 `change_event`). Default: event_add, event_subtract.
    pub point_events: Vec<PointEvent>,
    /// Seed of the generated identifiers; `None`: from the system time.
    pub id_seed: Option<u64>,
    /// Whether a keyed write (3.3, 3.4.1, 3.4.2) repeated *identically* under a used
    /// `change_id` answers the first answer instead of 150002. Default `false`: the
    /// document answers every reuse of a `change_id` with 150002 (唯一标识已存在, 请更换),
    /// and a client must cope with that (errata E69). `true` emulates a more forgiving
    /// platform, for clients that want to test against one.
    pub replay_identical_keys: bool,
    /// How a business call's invalid access token is answered. Default
    /// [`InvalidTokenAnswer::SpecCode`] (1002).
    pub invalid_token_answer: InvalidTokenAnswer,
    /// Whether each refresh (2.2) also issues a new refresh token and revokes the one it
    /// was called with. Default `false`: the document's 2.2 answers an access token only,
    /// and the refresh token lives its year. `true` emulates a platform that rotates
    /// them, a plausible reading clients must survive.
    pub rotate_refresh_tokens: bool,
    /// Which verbs the gateway takes. Default [`VerbReading::Lenient`].
    pub verbs: VerbReading,
    /// Where the state is kept across restarts (`--state FILE`); `None` (the default):
    /// in memory only. Loaded by [`Sandbox::start`](crate::Sandbox::start), saved after
    /// every change; see [`state::persist`](crate::state::persist). Not used by
    /// `Controls::in_process`.
    pub state_file: Option<PathBuf>,
    /// The zvcms API at `/api/v2` (its `OpenId`, `GrantCode` and signer); `None` (the
    /// default): not served, the path is 404. See [`zvcms_api`](crate::zvcms_api).
    pub zvcms: Option<ZvcmsConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let protocol = gree_ump::PROTOCOL;
        let tokens = protocol.tokens;
        SandboxConfig {
            port: 0,
            app_id: DEFAULT_APP_ID.to_owned(),
            app_secret: DEFAULT_APP_SECRET.to_owned(),
            timestamp_tolerance_ms: Some(
                protocol
                    .clock_tolerance_ms
                    .and_then(|t| i64::try_from(t).ok())
                    .unwrap_or(3_000),
            ),
            timestamp_scope: TimestampScope::default(),
            start_time_ms: None,
            access_token_lifetime_s: tokens
                .and_then(|t| i64::try_from(t.access_token_lifetime_s).ok())
                .unwrap_or(7_200),
            refresh_token_lifetime_s: tokens
                .and_then(|t| i64::try_from(t.refresh_token_lifetime_s).ok())
                .unwrap_or(31_536_000),
            obtain_daily_limit: tokens.and_then(|t| t.obtain_daily_limit).unwrap_or(1),
            refresh_daily_limit: tokens.and_then(|t| t.refresh_daily_limit).unwrap_or(20),
            member_code_ttl_ms: 60_000,
            sms_daily_limit: 10,
            sms_code_ttl_ms: 300_000,
            levels: default_levels(),
            point_events: default_point_events(),
            id_seed: None,
            replay_identical_keys: false,
            invalid_token_answer: InvalidTokenAnswer::default(),
            rotate_refresh_tokens: false,
            verbs: VerbReading::default(),
            state_file: None,
            zvcms: None,
        }
    }
}

impl SandboxConfig {
    /// The app credentials the sandbox accepts.
    #[must_use]
    pub fn with_app(mut self, app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        self.app_id = app_id.into();
        self.app_secret = app_secret.into();
        self
    }

    /// The port to listen on (0: any free port).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The timestamp window (`None`: timestamps are not checked).
    #[must_use]
    pub fn with_timestamp_tolerance_ms(mut self, tolerance: Option<i64>) -> Self {
        self.timestamp_tolerance_ms = tolerance;
        self
    }

    /// Which calls the timestamp window applies to (errata E73).
    #[must_use]
    pub fn with_timestamp_scope(mut self, scope: TimestampScope) -> Self {
        self.timestamp_scope = scope;
        self
    }

    /// Where the sandbox clock starts.
    #[must_use]
    pub fn with_start_time_ms(mut self, start_ms: i64) -> Self {
        self.start_time_ms = Some(start_ms);
        self
    }

    /// The membership levels, lowest first.
    #[must_use]
    pub fn with_levels(mut self, levels: Vec<LevelConfig>) -> Self {
        self.levels = levels;
        self
    }

    /// The registered point events.
    #[must_use]
    pub fn with_point_events(mut self, events: Vec<PointEvent>) -> Self {
        self.point_events = events;
        self
    }

    /// The seed of generated identifiers (same seed, same identifiers).
    #[must_use]
    pub fn with_id_seed(mut self, seed: u64) -> Self {
        self.id_seed = Some(seed);
        self
    }

    /// Whether each refresh issues a new refresh token and revokes the old one.
    #[must_use]
    pub fn with_rotating_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// Which verbs the gateway takes.
    #[must_use]
    pub fn with_verbs(mut self, verbs: VerbReading) -> Self {
        self.verbs = verbs;
        self
    }

    /// How a business call's invalid access token is answered.
    #[must_use]
    pub fn with_invalid_token_answer(mut self, answer: InvalidTokenAnswer) -> Self {
        self.invalid_token_answer = answer;
        self
    }

    /// Whether an identical request under a used `change_id` replays the first answer
    /// (`false`, the default and the document's behaviour: 150002; errata E69).
    #[must_use]
    pub fn with_replay_identical_keys(mut self, replay: bool) -> Self {
        self.replay_identical_keys = replay;
        self
    }

    /// Keeps the state in this file across restarts (see [`crate::state::persist`]).
    #[must_use]
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Serves the zvcms API at `/api/v2`, accepting these credentials and Tokens as its
    /// signer computes them (see [`zvcms_api`](crate::zvcms_api)).
    pub fn with_zvcms(mut self, zvcms: ZvcmsConfig) -> Self {
        self.zvcms = Some(zvcms);
        self
    }

    /// Levels sorted by threshold, never empty (a single level 1 if none were given).
    pub(crate) fn normalized_levels(&self) -> Vec<LevelConfig> {
        let mut levels = self.levels.clone();
        levels.sort_by_key(|l| (l.growth_threshold, l.number));
        if levels.is_empty() {
            levels.push(LevelConfig::new(1, 1, "一级会员", 0));
        }
        levels
    }
}

impl fmt::Debug for SandboxConfig {
    // The secret stays out of Debug output (logs, panics of tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("port", &self.port)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[REDACTED]")
            .field("timestamp_tolerance_ms", &self.timestamp_tolerance_ms)
            .field("timestamp_scope", &self.timestamp_scope)
            .field("start_time_ms", &self.start_time_ms)
            .field("access_token_lifetime_s", &self.access_token_lifetime_s)
            .field("refresh_token_lifetime_s", &self.refresh_token_lifetime_s)
            .field("obtain_daily_limit", &self.obtain_daily_limit)
            .field("refresh_daily_limit", &self.refresh_daily_limit)
            .field("member_code_ttl_ms", &self.member_code_ttl_ms)
            .field("sms_daily_limit", &self.sms_daily_limit)
            .field("sms_code_ttl_ms", &self.sms_code_ttl_ms)
            .field("levels", &self.levels)
            .field("point_events", &self.point_events)
            .field("id_seed", &self.id_seed)
            .field("replay_identical_keys", &self.replay_identical_keys)
            .field("invalid_token_answer", &self.invalid_token_answer)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("verbs", &self.verbs)
            .field("state_file", &self.state_file)
            .field("zvcms", &self.zvcms)
            .finish()
    }
}
