//! Protocol facts of one API, generated from its spec's `protocol` block.
//!
//! The spec names an envelope style and a signing scheme; the runtime implements each
//! named piece once, so a second API with a different envelope reuses the generator.

/// The response envelope styles the runtime decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeStyle {
    /// `success`, `error_code`/`errorCode`, `error_message`/`errorMessage`, `data`, and
    /// top-level `pageNo`/`pageSize`/`totalCount`.
    UmpGateway,
}

/// The request signing schemes the runtime implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningScheme {
    /// Query params but `sign`, sorted by name, name+value concatenated, then the raw body,
    /// then the app secret; MD5; lowercase hex.
    UmpMd5,
}

/// The unit of the `timestamp` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampUnit {
    Milliseconds,
    Seconds,
}

/// Everything the runtime needs to know about an API besides its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// The spec's `api.name`.
    pub api: &'static str,
    /// The vendor document's version the generated code was made from.
    pub doc_version: &'static str,
    pub envelope: EnvelopeStyle,
    pub signing: SigningScheme,
    /// URL path template; `{method}` is replaced by the method name.
    pub path_template: &'static str,
    /// Preset name → base URL, as the document lists them.
    pub base_urls: &'static [(&'static str, &'static str)],
    /// The error code that means success, when the envelope carries one.
    pub success_code: Option<i64>,
    pub timestamp: TimestampUnit,
    /// How far the platform lets a timestamp drift from its own clock.
    pub clock_tolerance_ms: Option<u64>,
    /// Error codes that mean "access token invalid or expired".
    pub invalid_token_codes: &'static [i64],
    /// Case-insensitive substrings of an error message that mean the same.
    pub invalid_token_patterns: &'static [&'static str],
    /// How tokens are obtained and refreshed, when the API uses tokens.
    pub tokens: Option<TokenProtocol>,
}

/// The token calls of an API, named by the spec so the runtime needs no endpoint knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenProtocol {
    /// Method that issues an access and a refresh token (signed with the app secret).
    pub obtain_method: &'static str,
    /// Method that issues a new access token for a refresh token.
    pub refresh_method: &'static str,
    /// Query parameter carrying the app id on the obtain call.
    pub app_id_param: &'static str,
    /// Query parameter carrying the access token on business calls.
    pub access_token_param: &'static str,
    /// Query parameter carrying the refresh token on the refresh call.
    pub refresh_token_param: &'static str,
    /// Keys of the token data in a reply's `data`.
    pub access_token_key: &'static str,
    pub refresh_token_key: &'static str,
    pub expires_in_key: &'static str,
    /// Lifetimes the document states, used when a reply omits them.
    pub access_token_lifetime_s: u64,
    pub refresh_token_lifetime_s: u64,
    /// The most obtain / refresh calls the document allows per day.
    pub obtain_daily_limit: Option<u32>,
    pub refresh_daily_limit: Option<u32>,
}

impl ProtocolInfo {
    /// The base URL of a named preset (`test`, `production`…).
    pub fn base_url(&self, preset: &str) -> Option<&'static str> {
        self.base_urls
            .iter()
            .find(|(name, _)| *name == preset)
            .map(|(_, url)| *url)
    }

    /// The request path of a method.
    pub fn path(&self, method: &str) -> String {
        self.path_template.replace("{method}", method)
    }
}
