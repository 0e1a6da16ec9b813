//! Protocol facts of one API, generated from its spec's `protocol` block.
//!
//! The spec names an envelope style and a signing scheme; the runtime implements each
//! named piece once, so a second API with a different envelope reuses the generator.

/// The response envelope styles the runtime decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeStyle {
    /// Request: the method in the URL path; the credential, the timestamp and the
    /// signature in the query string; the business parameters as the JSON body.
    /// Reply: a success flag and/or a code, a message, `data`, and top-level page
    /// numbers, under the keys of [`ProtocolInfo::envelope_keys`].
    UmpGateway,
    /// Request: one URL for every call (the spec's `method_in: envelope`) and a JSON body
    /// `{"OpenId", "GrantCode", "Timestamp", "Nonce", "Token", "Action", "Params"}`: the app
    /// id, the grant code, the time (the protocol's unit, as a decimal string), a random
    /// positive integer unique per call (decimal string), the signature, the method name,
    /// and the business parameters as a JSON object.
    /// Reply: a status flag, a code (an integer or a string; the protocol's `success_code`
    /// means success), a message and `data`, under the keys of
    /// [`ProtocolInfo::envelope_keys`].
    ZvcmsAction,
}

/// The request signing schemes the runtime implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningScheme {
    /// Query params but `sign`, sorted by name, name+value concatenated, then the raw body,
    /// then the app secret; MD5; lowercase hex. (With an envelope that carries its fields
    /// in the body, those fields take the place of the query parameters and the body is
    /// empty.)
    UmpMd5,
    /// No algorithm of the runtime's own: the document does not publish one, so the client
    /// signs with the [`Signer`](crate::signer::Signer) the user sets
    /// ([`ClientBuilder::signer`](crate::ClientBuilder::signer)), and cannot be built
    /// without one.
    Pluggable,
}

/// The unit of the `timestamp` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampUnit {
    /// Milliseconds since 1970-01-01 UTC (UMP).
    Milliseconds,
    /// Seconds since 1970-01-01 UTC (zvcms).
    Seconds,
}

/// Everything the runtime needs to know about an API besides its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// The spec's `api.name`.
    pub api: &'static str,
    /// The vendor document's version the generated code was made from.
    pub doc_version: &'static str,
    /// How requests are framed and replies decoded.
    pub envelope: EnvelopeStyle,
    /// How requests are signed.
    pub signing: SigningScheme,
    /// URL path template; `{method}` is replaced by the method name.
    pub path_template: &'static str,
    /// Preset name → base URL, as the document lists them.
    pub base_urls: &'static [(&'static str, &'static str)],
    /// The error code that means success, when the envelope carries one.
    pub success_code: Option<i64>,
    /// The unit of the request timestamp.
    pub timestamp: TimestampUnit,
    /// How far the platform lets a timestamp drift from its own clock, in milliseconds;
    /// `None` when the document states no limit.
    pub clock_tolerance_ms: Option<u64>,
    /// The platform's clock zone, seconds east of UTC (the spec's `time_zone`): the day
    /// its daily limits are counted in.
    pub utc_offset_s: i32,
    /// The query parameter of the timestamp, for envelope styles that put it in the
    /// query ([`EnvelopeStyle::UmpGateway`]); `None` otherwise.
    pub timestamp_param: Option<&'static str>,
    /// The query parameter of the signature, likewise; `None` when it travels in the body.
    pub sign_param: Option<&'static str>,
    /// Error codes that mean "access token invalid or expired".
    pub invalid_token_codes: &'static [i64],
    /// Case-insensitive substrings of an error message that mean the same.
    pub invalid_token_patterns: &'static [&'static str],
    /// Codes that may also mean an access token the platform stopped accepting, when
    /// the platform answers an invalid token with its generic parameter error: worth
    /// one speculative refresh and one retry, within the limits of the token manager's
    /// budget rules (see the `tokens` module).
    pub ambiguous_token_codes: &'static [i64],
    /// Error codes with which the platform may refuse a call sent with a verb it does
    /// not take for that endpoint, its message naming the verb to use (an HTTP 405 is
    /// such a refusal everywhere): the client then sends that endpoint with the other
    /// verb its spec records ([`EndpointInfo::doc_verb`](crate::EndpointInfo::doc_verb)).
    pub verb_refusal_codes: &'static [i64],
    /// How tokens are obtained and refreshed, when the API uses tokens.
    pub tokens: Option<TokenProtocol>,
    /// Wire names of the fields the spec marks `sensitive` (secret or pii), sorted:
    /// their values are redacted from body excerpts and scrubbed from every text.
    pub sensitive_keys: &'static [&'static str],
    /// The keys of a reply's envelope (the spec's `protocol.envelope_keys`).
    pub envelope_keys: EnvelopeKeys,
}

/// Where a reply's envelope keeps each of its parts: the keys each part may be sent
/// under (the spec's `protocol.envelope_keys`; the first is the document's own, the
/// others are aliases seen on the wire). A part with no keys is one the style does not
/// have. Each part is decoded by [`wire::tolerant`](crate::wire::tolerant), whatever the
/// style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeKeys {
    /// The success flag (`true`/`false`, also as strings).
    pub success: &'static [&'static str],
    /// The error code (the protocol's `success_code` means success).
    pub code: &'static [&'static str],
    /// The error message.
    pub message: &'static [&'static str],
    /// The business data, kept raw until the endpoint's type decodes it.
    pub data: &'static [&'static str],
    /// The page number at the top level of a paged reply.
    pub page_no: &'static [&'static str],
    /// The page size at the top level of a paged reply.
    pub page_size: &'static [&'static str],
    /// The total count of items at the top level of a paged reply.
    pub total_count: &'static [&'static str],
}

impl EnvelopeKeys {
    /// Each part with its keys, in a fixed order (the index of a part in
    /// [`crate::envelope`]'s reader).
    pub(crate) fn parts(&self) -> [(&'static str, &'static [&'static str]); 7] {
        [
            ("success", self.success),
            ("code", self.code),
            ("message", self.message),
            ("data", self.data),
            ("page_no", self.page_no),
            ("page_size", self.page_size),
            ("total_count", self.total_count),
        ]
    }

    /// What every style needs: `data`, a flag or a code to tell success, and no key
    /// shared by two parts. The error text names the problem.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.data.is_empty() {
            return Err("envelope_keys.data lists no key".into());
        }
        if self.success.is_empty() && self.code.is_empty() {
            return Err("envelope_keys lists no key for success nor for code".into());
        }
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (part, keys) in self.parts() {
            for key in keys {
                if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
                    return Err(format!(
                        "envelope_keys: `{key}` is listed for {first} and again for {part}"
                    ));
                }
                seen.push((key, part));
            }
        }
        Ok(())
    }
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
    /// Key of the access token in a token reply's `data`.
    pub access_token_key: &'static str,
    /// Key of the refresh token in a token reply's `data`.
    pub refresh_token_key: &'static str,
    /// Key of the access token's lifetime (seconds) in a token reply's `data`.
    pub expires_in_key: &'static str,
    /// The access token's lifetime the document states, in seconds: used when a reply
    /// omits it.
    pub access_token_lifetime_s: u64,
    /// The refresh token's lifetime the document states, in seconds (counted from the
    /// call that issued it; replies do not carry it).
    pub refresh_token_lifetime_s: u64,
    /// The most obtain calls the document allows per platform day; `None`: no limit.
    pub obtain_daily_limit: Option<u32>,
    /// The most refresh calls the document allows per platform day; `None`: no limit.
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

    /// The request path of a method (the template itself when the method travels in the
    /// request envelope rather than the path).
    pub fn path(&self, method: &str) -> String {
        self.path_template.replace("{method}", method)
    }

    /// Whether an error answer means "access token invalid or expired", for an answer to
    /// a request that sent no text of its own (the token calls). See
    /// [`ProtocolInfo::is_invalid_token_answer`].
    pub fn is_invalid_token(&self, code: i64, message: Option<&str>) -> bool {
        self.is_invalid_token_answer(code, message, &[])
    }

    /// Whether an error answer proves that the access token is invalid or expired: the
    /// spec's invalid-token code, or a message containing one of its phrases (compared
    /// case-insensitively) that the request did not itself send.
    ///
    /// What counts as proof, and why:
    /// - The code is the platform's own word: it decides, whatever the message says.
    /// - A phrase is weaker. The platform quotes request values in its messages
    ///   ("会员码已失效: invalid token" answers a scanned code `invalid token`), so a
    ///   phrase that occurs in any text the request carried (`sent`: the query values
    ///   and the body, as sent) may be the customer's input echoed back, and is never
    ///   proof: each such answer would otherwise spend one of the day's refreshes. The
    ///   price is small: an answer whose phrase the request happened to contain is
    ///   reported as it is, and the next call without that text (or the token's own
    ///   expiry) still refreshes.
    /// - Phrases are phrases ("token expired"), never a bare word such as `access_token`,
    ///   which other errors quote too ("sign error: check access_token").
    /// - The code is not required: the gateway's parameter-error code with a token
    ///   phrase (`1001 access_token无效(已过期)`) is recognised, as the document's global
    ///   table makes such an answer plausible.
    pub fn is_invalid_token_answer(&self, code: i64, message: Option<&str>, sent: &[&str]) -> bool {
        if self.invalid_token_codes.contains(&code) {
            return true;
        }
        let Some(message) = message else {
            return false;
        };
        let message = message.to_lowercase();
        let mut found = self
            .invalid_token_patterns
            .iter()
            .map(|p| p.to_lowercase())
            .filter(|p| message.contains(p))
            .peekable();
        // What the request sent is lowered only when the message holds a phrase.
        if found.peek().is_none() {
            return false;
        }
        let sent: Vec<String> = sent.iter().map(|s| s.to_lowercase()).collect();
        found.any(|p| !sent.iter().any(|s| s.contains(&p)))
    }

    /// Whether `method` is one of the token calls of [`ProtocolInfo::tokens`].
    pub fn is_token_method(&self, method: &str) -> bool {
        self.tokens
            .as_ref()
            .is_some_and(|t| t.obtain_method == method || t.refresh_method == method)
    }
}
