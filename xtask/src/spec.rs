//! The spec file as written: a serde mirror of `api-spec/README.md`, key by key.
//!
//! Unknown keys are errors (`deny_unknown_fields`), so a typo in the YAML never silently
//! drops information. Values that semantic checks report on are `Spanned`, so an error
//! can name the line of the YAML.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Line<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    pub format: Line<u32>,
    pub api: ApiSection,
    pub protocol: ProtocolSection,
    #[serde(default)]
    pub enums: BTreeMap<String, Line<EnumSpec>>,
    #[serde(default)]
    pub types: BTreeMap<String, Line<TypeSpec>>,
    pub endpoints: Vec<Line<EndpointSpec>>,
    pub errors: Vec<Line<ErrorSpec>>,
    #[serde(default)]
    pub errata: Vec<Line<ErratumSpec>>,
    /// How the vendor's document lays itself out, for `cargo xtask audit-doc`; the
    /// generator does not read it.
    #[serde(default)]
    pub audit: Option<AuditSpec>,
    /// The operator's command line generated beside the client.
    #[serde(default)]
    pub cli: Option<Line<CliSpec>>,
}

/// Where the generated command line goes and what its binary is called.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliSpec {
    /// The command line crate's directory, relative to the workspace root.
    pub target: String,
    /// The binary's name, as its help and completions spell it.
    pub binary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    pub name: String,
    pub title: String,
    pub gloss: String,
    pub document: String,
    pub doc_version: String,
    pub target: String,
    /// The document's heading of its summary table of error codes (as the document words it), named
    /// in the generated docs.
    #[serde(default)]
    pub errors_heading: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSection {
    pub envelope: Line<String>,
    pub signing: Line<String>,
    pub path: String,
    /// Where the method name travels: `path` (the template's `{method}`, the default) or
    /// `envelope` (a field of the request envelope; the template then has no `{method}`).
    #[serde(default)]
    pub method_in: Option<Line<String>>,
    #[serde(default)]
    pub base_urls: BTreeMap<String, String>,
    #[serde(default)]
    pub success_code: Option<i64>,
    pub timestamp: Line<String>,
    #[serde(default)]
    pub clock_tolerance_ms: Option<u64>,
    /// The platform's clock as a UTC offset (`+08:00`): the day its daily limits count in.
    /// Absent: UTC.
    #[serde(default)]
    pub time_zone: Option<Line<String>>,
    /// The query parameters that carry the timestamp and the signature (envelope styles
    /// that put them in the query: `ump_gateway`). Each must be one of `common_params`.
    #[serde(default)]
    pub timestamp_param: Option<Line<String>>,
    #[serde(default)]
    pub sign_param: Option<Line<String>>,
    #[serde(default)]
    pub invalid_token: Option<InvalidTokenSpec>,
    /// Error codes with which the platform may refuse a call sent with another verb than
    /// it wants (a message naming the verb to use); an HTTP 405 is one everywhere.
    #[serde(default)]
    pub verb_refusal_codes: Vec<i64>,
    #[serde(default)]
    pub common_params: Vec<Line<FieldSpec>>,
    #[serde(default)]
    pub tokens: Option<Line<TokensSpec>>,
    /// The keys of each part of a reply's envelope, the document's own first.
    pub envelope_keys: Line<EnvelopeKeysSpec>,
}

/// Keys per part of the reply envelope; an absent part is one the style lacks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeKeysSpec {
    #[serde(default)]
    pub success: Vec<String>,
    #[serde(default)]
    pub code: Vec<String>,
    #[serde(default)]
    pub message: Vec<String>,
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub page_no: Vec<String>,
    #[serde(default)]
    pub page_size: Vec<String>,
    #[serde(default)]
    pub total_count: Vec<String>,
}

impl EnvelopeKeysSpec {
    /// Each part with its keys, in the runtime's order (`EnvelopeKeys`' fields).
    pub fn parts(&self) -> [(&'static str, &[String]); 7] {
        [
            ("success", &self.success),
            ("code", &self.code),
            ("message", &self.message),
            ("data", &self.data),
            ("page_no", &self.page_no),
            ("page_size", &self.page_size),
            ("total_count", &self.total_count),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSpec {
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidTokenSpec {
    #[serde(default)]
    pub codes: Vec<i64>,
    #[serde(default)]
    pub message_patterns: Vec<String>,
    /// Codes that may also mean a token the platform stopped accepting (a generic
    /// parameter error): worth one refresh and one retry, within the runtime's limits.
    #[serde(default)]
    pub ambiguous_codes: Vec<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumSpec {
    pub doc: String,
    pub gloss: String,
    pub values: Vec<Line<EnumValueSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValueSpec {
    pub value: i64,
    pub name: String,
    pub doc: String,
    pub gloss: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeSpec {
    pub doc: String,
    pub gloss: String,
    pub fields: Vec<Line<FieldSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub wire: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub ty: Line<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "in")]
    pub location: Option<Line<String>>,
    #[serde(default)]
    pub encoding: Option<Line<String>>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub supplied_by: Option<Line<String>>,
    /// `secret` or `pii`: redacted from generated `Debug` and runtime texts.
    #[serde(default)]
    pub sensitive: Option<Line<String>>,
    /// The error code the platform answers when this required request field is absent
    /// or empty, where the document gives it one (instead of the generic invalid-parameter
    /// code).
    #[serde(default)]
    pub missing_error: Option<Line<i64>>,
    pub doc: String,
    pub gloss: String,
    #[serde(default)]
    pub example: Option<String>,
    /// An example the field's type accepts, where the document's `example` is not one
    /// (prose around it, JSON that does not parse): the command line's help shows it, so
    /// that a user who copies the help gets a value the flag takes. The document's own
    /// stays in the docs.
    #[serde(default)]
    pub usable_example: Option<String>,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub method: String,
    pub name: String,
    pub group: String,
    /// The command line's subcommand within the group (`query` of `members query`);
    /// default: `name` in kebab-case.
    #[serde(default)]
    pub command: Option<Line<String>>,
    pub section: String,
    pub title: String,
    pub gloss: String,
    pub doc_verb: Line<String>,
    pub verb: Line<String>,
    pub credential: Line<String>,
    pub idempotency: Line<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    pub paging: Option<Line<PagingSpec>>,
    pub request: RequestSpec,
    pub response: Line<ResponseSpec>,
    #[serde(default)]
    pub errors: Vec<Line<i64>>,
    /// How the write journal identifies, orders and settles this write.
    #[serde(default)]
    pub journal: Option<Line<JournalSpec>>,
    /// What the call does beyond its answer (balances it moves, the codes that refuse it),
    /// as the document and its errata decide and the sandbox emulates: one paragraph each,
    /// shown in the method's docs. A code they cite must be among `errors`.
    #[serde(default)]
    pub effects: Vec<String>,
}

/// How a write goes through the write journal: how a write whose outcome is unknown is
/// settled, and which of its fields name the things (members, orders…) whose writes keep
/// their order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSpec {
    /// `keyed` (re-sent identical; `conflict_code` after an attempt that may have landed
    /// means applied by it), `identical` (re-sent identical; the platform answers a
    /// repeat with the first answer), `probe` (a read, `probe`, decides before any
    /// re-send), `never` (never re-sent: an unknown outcome needs an operator).
    pub settle: Line<String>,
    #[serde(default)]
    pub conflict_code: Option<i64>,
    /// The read that finds whether the write is in effect (`settle: probe`).
    #[serde(default)]
    pub probe: Option<String>,
    /// Per kind of thing (`member`, `order`…), the request fields naming one: a wire
    /// name, or `list[].field` for a field of each item of a list.
    #[serde(default)]
    pub order_keys: BTreeMap<String, Vec<String>>,
    /// Per kind, the request fields naming things this write must follow without holding
    /// them: it waits for earlier writes that name them in `order_keys` (a grant waits for
    /// its template), and writes that only follow one do not wait for each other.
    #[serde(default)]
    pub after_keys: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub max: u32,
    pub per: String,
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSpec {
    pub page_no: String,
    pub page_size: String,
    pub total: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default)]
    pub fields: Vec<Line<FieldSpec>>,
    #[serde(default)]
    pub rules: Vec<Line<RuleSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub required_if: Option<RequiredIfSpec>,
    #[serde(default)]
    pub required_unless: Option<RequiredIfSpec>,
    #[serde(default)]
    pub items: Option<ItemsSpec>,
    #[serde(default)]
    pub error: Option<i64>,
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredIfSpec {
    pub field: String,
    pub when: String,
    pub equals: i64,
}

/// How many items a list field may hold; with `when_set`, only while that field is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsSpec {
    pub field: String,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    #[serde(default)]
    pub when_set: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    pub data: DataSpec,
    #[serde(default)]
    pub fields: Vec<Line<FieldSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
    #[serde(default)]
    pub list: Option<String>,
    #[serde(default)]
    pub none: Option<bool>,
    /// With `type: bool`: the data confirms success only when `true`; a `false` is this
    /// error code (one way to say no).
    #[serde(default)]
    pub false_is_error: Option<Line<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    pub code: i64,
    pub name: String,
    pub message: String,
    pub gloss: String,
    pub group: String,
    pub category: Line<String>,
    pub retryable: bool,
    #[serde(default)]
    pub sections: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErratumSpec {
    pub id: String,
    pub sections: Vec<String>,
    pub topic: String,
    pub doc_says: String,
    pub decision: String,
    pub reason: String,
    /// The audit's difference keys this entry explains (`3.8/verb`,
    /// `3.1/request/realname/not_in_doc`, `errors/1002/not_in_doc`; `*` matches any one
    /// segment): `cargo xtask audit-doc` does not report a difference a key covers.
    #[serde(default)]
    pub covers: Vec<Line<String>>,
}

/// The document's layout as `cargo xtask audit-doc` reads it (`api-spec/README.md`,
/// "audit").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// The section number given to everything before the first numbered section.
    pub preamble_section: String,
    /// How many dotted parts a section heading's number has at least (`2` reads `2.1` and
    /// `3.4.1` as sections, `3.` as a chapter).
    pub section_depth: usize,
    /// The heading line after which a section's request address follows.
    pub address_heading: String,
    /// The heading line after which a section's HTTP verb follows.
    pub verb_heading: String,
    /// The heading of a section's request field table.
    pub request_heading: String,
    /// The heading of the preamble's table of common parameters.
    pub common_heading: String,
    /// The heading of a section's response field table.
    pub response_heading: String,
    pub field_table: FieldTableSpec,
    /// Header rows of error-code tables (code, message).
    pub code_table_headers: Vec<Vec<String>>,
    /// Header row of the revision table, whose last row names the document's version.
    #[serde(default)]
    pub revision_table_header: Option<Vec<String>>,
    /// Spec type class → the document's type names that agree with it (compared without
    /// case, and without a parenthesised suffix such as `(34位)`). Classes: a primitive
    /// (`string`, `i64`…), `enum`, `object`, `list`, or `encoding:<name>` for a field
    /// with that `encoding`.
    pub types: BTreeMap<String, Vec<String>>,
}

/// The columns of a field table and how its cells are read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTableSpec {
    /// The header row, cell by cell (`参数名称 参数类型 必选 参数说明 示例值`); the first four
    /// columns are name, type, required mark, description.
    pub header: Vec<String>,
    /// The required column's mark for yes (`是`) and no (`否`).
    pub required_yes: String,
    pub required_no: String,
    /// Description prefixes that say where a field travels, to `query` or `body`.
    pub locations: BTreeMap<String, String>,
}
