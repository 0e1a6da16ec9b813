//! The validated model the code generators read: names resolved, types checked,
//! everything in a deterministic order.

/// One API, ready for code generation.
#[derive(Debug, Clone)]
pub struct Api {
    /// Spec path relative to the workspace root, for headers.
    pub spec_path: String,
    pub name: String,
    pub title: String,
    pub gloss: String,
    pub document: String,
    pub doc_version: String,
    /// Crate directory relative to the workspace root.
    pub target: String,
    pub protocol: Protocol,
    pub enums: Vec<Enum>,
    pub structs: Vec<Struct>,
    pub endpoints: Vec<Endpoint>,
    pub errors: Vec<ErrorCode>,
    /// The spec's errata, in its order.
    pub errata: Vec<Erratum>,
    /// The document's heading of its error-code summary, if it has one.
    pub errors_heading: Option<String>,
    /// The generated command line, if the spec asks for one.
    pub cli: Option<Cli>,
}

/// The operator's command line generated beside the client.
#[derive(Debug, Clone)]
pub struct Cli {
    /// Crate directory relative to the workspace root.
    pub target: String,
    pub binary: String,
}

/// One errata entry: a contradiction of the document and the decision taken.
#[derive(Debug, Clone)]
pub struct Erratum {
    pub id: String,
    pub topic: String,
    /// The document's sections (or headings) it concerns.
    pub sections: Vec<String>,
    /// The decision taken.
    pub decision: String,
}

/// A parameter the runtime fills (credential, timestamp, signature, envelope fields):
/// not a field of any generated type, kept for documents that describe the wire.
#[derive(Debug, Clone)]
pub struct Param {
    pub wire: String,
    /// The spec's type, as written (`string`, `timestamp_ms`…).
    pub ty: String,
    pub required: bool,
    /// In the query string (`in: query`); otherwise in the body or envelope.
    pub in_query: bool,
    pub doc: String,
    pub gloss: String,
    pub example: Option<String>,
}

impl Api {
    /// The errata that apply to an endpoint: those whose `sections` list the endpoint's
    /// section exactly (`"3.4"` does not cover `"3.4.1"`; an entry of the general section
    /// `"1"` reaches only an endpoint documented in section `"1"`), in the spec's order.
    pub fn errata_of(&self, section: &str) -> impl Iterator<Item = &Erratum> {
        self.errata
            .iter()
            .filter(move |e| e.sections.iter().any(|s| s == section))
    }
}

#[derive(Debug, Clone)]
pub struct Protocol {
    pub envelope: String,
    pub signing: String,
    pub path: String,
    pub method_in: MethodIn,
    pub base_urls: Vec<(String, String)>,
    pub success_code: Option<i64>,
    pub timestamp: String,
    pub clock_tolerance_ms: Option<u64>,
    /// The platform's clock zone, seconds east of UTC.
    pub utc_offset_s: i32,
    pub timestamp_param: Option<String>,
    pub sign_param: Option<String>,
    pub invalid_token_codes: Vec<i64>,
    pub invalid_token_patterns: Vec<String>,
    pub ambiguous_token_codes: Vec<i64>,
    pub verb_refusal_codes: Vec<i64>,
    pub tokens: Option<Tokens>,
    /// Keys per part of the reply envelope, in `EnvelopeKeys`' field order.
    pub envelope_keys: Vec<(&'static str, Vec<String>)>,
    /// The document's common parameters (`common_params`), in the spec's order.
    pub common_params: Vec<Param>,
}

/// Where the method name travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodIn {
    /// In the URL path (`{method}` of the path template).
    Path,
    /// In a field of the request envelope; every call goes to the same path.
    Envelope,
}

impl MethodIn {
    /// As the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodIn::Path => "path",
            MethodIn::Envelope => "envelope",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub obtain: String,
    pub refresh: String,
    pub app_id_param: String,
    pub access_token_param: String,
    pub refresh_token_param: String,
    pub access_token_key: String,
    pub refresh_token_key: String,
    pub expires_in_key: String,
    pub access_token_lifetime_s: u64,
    pub refresh_token_lifetime_s: u64,
    pub obtain_daily_limit: Option<u32>,
    pub refresh_daily_limit: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Enum {
    pub name: String,
    pub doc: String,
    pub gloss: String,
    pub values: Vec<EnumValue>,
}

#[derive(Debug, Clone)]
pub struct EnumValue {
    pub value: i64,
    pub name: String,
    pub doc: String,
    pub gloss: String,
}

/// How a struct treats its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructStyle {
    /// Only ever sent: required fields are plain, set through `new`.
    Request,
    /// Received (or both): every field optional and decoded tolerantly, unknown keys kept.
    Tolerant,
}

#[derive(Debug, Clone)]
pub struct Struct {
    pub name: String,
    pub doc: String,
    pub gloss: String,
    pub fields: Vec<Field>,
    pub style: StructStyle,
    /// The struct of named arguments `new` takes (`ChangePointsArgs`): set on a
    /// request-style struct with two or more required fields (see `validate::name_args`),
    /// so that no constructor takes two values of one type in a row.
    pub args: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub wire: String,
    pub name: String,
    pub ty: Ty,
    pub required: bool,
    pub in_query: bool,
    pub encoding: Encoding,
    pub aliases: Vec<String>,
    pub doc: String,
    pub gloss: String,
    pub example: Option<String>,
    /// The example the command line shows when `example` is not a value of the type.
    pub usable_example: Option<String>,
    pub default: Option<String>,
    /// Redacted from `Debug` and from the runtime's texts (`sensitive:` in the spec).
    pub sensitive: Option<Sensitivity>,
    /// The code the platform answers when this required request field is absent or
    /// empty (`missing_error:` in the spec); servers use it, clients refuse earlier.
    pub missing_error: Option<i64>,
}

/// What kind of sensitive value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// A credential (token, code): never printed.
    Secret,
    /// Personal data of a customer (phone, ID card, name, birthday, address).
    Pii,
}

impl Sensitivity {
    pub fn marker(self) -> &'static str {
        match self {
            Sensitivity::Secret => "[REDACTED secret]",
            Sensitivity::Pii => "[REDACTED pii]",
        }
    }
}

/// A pair of the runtime's date types and the time zone they are written in.
#[derive(Debug, PartialEq, Eq)]
pub struct ZonedDates {
    /// As the spec writes it (`+08:00`).
    pub time_zone: &'static str,
    pub utc_offset_s: i32,
    /// The type names in `openplatform_runtime::wire`.
    pub date: &'static str,
    pub datetime: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    String,
    Bool,
    I32,
    I64,
    Yuan,
    /// An integer amount of fen (`wire::Fen`).
    Fen,
    /// A calendar date in the platform's time zone, `yyyy-MM-dd`.
    Date(&'static ZonedDates),
    /// A date and time in the platform's time zone, `yyyy-MM-dd HH:mm:ss`.
    DateTime(&'static ZonedDates),
    TimestampMs,
    Json,
    /// An identifier kept as its exact text (`wire::Id`).
    Id,
    List(Box<Ty>),
    Enum(String),
    Struct(String),
}

impl Ty {
    pub fn is_integer(&self) -> bool {
        matches!(self, Ty::I32 | Ty::I64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    JsonString,
    CommaJoined,
    Quoted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AppSignature,
    RefreshToken,
    AccessToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Read,
    Keyed,
    Unsafe,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: String,
    pub name: String,
    pub group: String,
    /// The command line's subcommand within the group (kebab-case).
    pub command: String,
    pub section: String,
    pub title: String,
    pub gloss: String,
    pub doc_verb: Verb,
    pub verb: Verb,
    pub credential: Credential,
    pub idempotency: Idempotency,
    /// Rust name of the field carrying the idempotency key.
    pub idempotency_key: Option<String>,
    pub daily_limit: Option<u32>,
    pub rate_limit_doc: Option<String>,
    pub paging: Option<Paging>,
    /// The request type (fields the caller sets).
    pub request: Struct,
    /// Table rows the runtime fills (credentials, signature, timestamp).
    pub runtime_params: Vec<String>,
    /// The same rows with their types and docs, in the table's order.
    pub runtime_fields: Vec<Param>,
    pub rules: Vec<Rule>,
    pub data: Data,
    pub errors: Vec<i64>,
    /// How the write journal settles and orders it; `None`: not journalled.
    pub journal: Option<Journal>,
    /// What it does beyond its answer: paragraphs for its docs (spec `effects`).
    pub effects: Vec<String>,
}

/// The spec's `journal` of a write endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub settle: Settle,
    /// The probe's method, for [`Settle::Probe`].
    pub probe: Option<String>,
    /// (kind, wire path) pairs, sorted by kind then path.
    pub order_keys: Vec<(String, String)>,
    /// Keys it follows without holding them, likewise.
    pub after_keys: Vec<(String, String)>,
}

/// How a write whose outcome is unknown is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Keyed { conflict_code: i64 },
    Identical,
    Probe,
    Never,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

impl Endpoint {
    pub fn doc_verb_str(&self) -> &'static str {
        self.doc_verb.as_str()
    }

    pub fn verb_str(&self) -> &'static str {
        self.verb.as_str()
    }

    /// `QueryMember` for `query_member`.
    pub fn type_stem(&self) -> String {
        heck::ToUpperCamelCase::to_upper_camel_case(self.name.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Paging {
    /// Rust names of the request's paging fields.
    pub page_no: String,
    pub page_size: String,
}

#[derive(Debug, Clone)]
pub enum Rule {
    OneOf {
        /// (wire, rust) names.
        fields: Vec<(String, String)>,
        error: Option<i64>,
        doc: String,
    },
    RequiredIf {
        field: (String, String),
        when: (String, String),
        equals: i64,
        doc: String,
    },
    /// `field` is required unless `when` has the value `equals`.
    RequiredUnless {
        field: (String, String),
        when: (String, String),
        equals: i64,
        doc: String,
    },
    /// The list `field` holds `min..=max` items (while `when_set` is set, if given).
    Items {
        field: (String, String),
        min: Option<u32>,
        max: Option<u32>,
        when_set: Option<(String, String)>,
        doc: String,
    },
}

#[derive(Debug, Clone)]
pub enum Data {
    None,
    One(Ty),
    List(Ty),
    /// A `bool` that must be `true`: the call returns `()`, and a `false` is the error
    /// `false_is_error` (the spec's `data: {type: bool, false_is_error: N}`).
    Confirmation {
        false_is_error: i64,
    },
}

#[derive(Debug, Clone)]
pub struct ErrorCode {
    pub code: i64,
    pub name: String,
    pub message: String,
    pub gloss: String,
    pub group: String,
    pub category: String,
    pub retryable: bool,
    pub sections: Vec<String>,
}
