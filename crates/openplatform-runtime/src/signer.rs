//! Pluggable request signing ([`SigningScheme::Pluggable`](crate::SigningScheme::Pluggable)).
//!
//! Some vendor documents describe their signature only by reference to a separate document
//! (the zvcms open API refers to a 《数字签名sign》 document that is not published with
//! it). For such an API the runtime has **no** signing algorithm of its own: the client is
//! built with a [`Signer`] the user chooses ([`ClientBuilder::signer`]), and `build()`
//! fails without one. Nothing here is presented as any vendor's algorithm.
//!
//! A signer is handed a [`SignRequest`]: the canonical description of one request — the
//! envelope fields that are sent besides the signature, in the order they are sent, each
//! value exactly as it is sent — and returns the signature string, which the runtime puts
//! on the wire unchanged (no encoding of any kind is added afterwards).
//!
//! For common schemes, [`CanonicalSigner`] is a building block: a documented canonical
//! string ([`Canonical`]), a digest ([`Algorithm::HmacSha1`] or [`Algorithm::Md5`]), an
//! output encoding ([`Output`]: base64 or hex) and optional percent-encoding. Whether any
//! combination matches a vendor must be confirmed with the vendor.
//!
//! ```
//! use std::sync::Arc;
//! use openplatform_runtime::signer::{Canonical, CanonicalSigner, SignRequest, Signer};
//!
//! // A choice to confirm with the vendor, not a known algorithm.
//! let signer = CanonicalSigner::hmac_sha1("key-secret")
//!     .canonical(Canonical::sorted_pairs().only(&["OpenId", "Timestamp", "Nonce"]))
//!     .url_encoded(true);
//! let fields = [("OpenId", "id"), ("Timestamp", "1547186244"), ("Nonce", "658965")];
//! let request = SignRequest::new("example.action", &fields);
//! assert_eq!(
//!     Canonical::sorted_pairs().string(&request),
//!     "Nonce=658965&OpenId=id&Timestamp=1547186244"
//! );
//! let token = signer.sign(&request).unwrap();
//! assert!(token.ends_with("%3D")); // base64 of 20 bytes ends in `=`, percent-encoded
//! let _for_the_builder: Arc<dyn Signer> = Arc::new(signer);
//! ```
//!
//! [`ClientBuilder::signer`]: crate::ClientBuilder::signer

use std::fmt;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use md5::{Digest, Md5};

use crate::secret::Secret;

/// Computes the signature of one request. Implement it for any scheme (an HSM, a KMS, a
/// vendor SDK's algorithm); [`CanonicalSigner`] covers common ones.
///
/// Implementations must not log the request's values (they include credentials), and
/// their `Debug` must not print a key: the client's `Debug` shows the signer.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The signature, exactly as it is to be sent.
    fn sign(&self, request: &SignRequest<'_>) -> Result<String, SignError>;
}

/// The canonical description of one request, as a signer sees it.
///
/// - [`fields`](Self::fields): every field of the request envelope that is sent besides
///   the signature, in the order sent, each value as its exact text on the wire. An
///   object value (the `Params` of the `zvcms_action` envelope) is its exact JSON text,
///   byte for byte as sent. For `zvcms_action`: `OpenId`, `GrantCode`, `Timestamp`,
///   `Nonce`, `Action`, `Params` (then an endpoint's query-string fields, if it has any).
///   For `ump_gateway`: the query parameters, sorted by name.
/// - [`body`](Self::body): the raw HTTP body when it is sent as is beside the fields
///   (`ump_gateway`); empty when the payload is one of the fields (`zvcms_action`).
#[derive(Clone, Copy)]
pub struct SignRequest<'a> {
    method: &'a str,
    fields: &'a [(&'a str, &'a str)],
    body: &'a [u8],
}

impl<'a> SignRequest<'a> {
    /// A request of `method` with these envelope fields and no separate body. Servers and
    /// tests build one from a received request to recompute its signature.
    pub fn new(method: &'a str, fields: &'a [(&'a str, &'a str)]) -> Self {
        SignRequest {
            method,
            fields,
            body: &[],
        }
    }

    /// The same request with a raw body sent beside the fields.
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// The platform's method (action) name.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The envelope fields, in the order sent.
    pub fn fields(&self) -> &'a [(&'a str, &'a str)] {
        self.fields
    }

    /// The value of a field, by exact name.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The raw body sent beside the fields (empty when there is none).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Field names only: the values include credentials.
impl fmt::Debug for SignRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(n, _)| *n).collect();
        f.debug_struct("SignRequest")
            .field("method", &self.method)
            .field("fields", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why a signer could not sign (it is reported before anything is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignError(pub String);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot sign the request: {}", self.0)
    }
}

impl std::error::Error for SignError {}

impl From<String> for SignError {
    fn from(reason: String) -> Self {
        SignError(reason)
    }
}

impl From<&str> for SignError {
    fn from(reason: &str) -> Self {
        SignError(reason.to_owned())
    }
}

/// How the string to sign is made from a [`SignRequest`].
///
/// The default ([`Canonical::sorted_pairs`]): every field, sorted by name in byte order,
/// written `name=value`, joined by `&`, values exactly as sent (not percent-encoded),
/// followed by the raw body when the request has one. For example the fields
/// `OpenId=a`, `Nonce=1` give `Nonce=1&OpenId=a`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    only: Option<Vec<String>>,
    sorted: bool,
    names: bool,
    kv_separator: String,
    pair_separator: String,
}

impl Default for Canonical {
    fn default() -> Self {
        Self::sorted_pairs()
    }
}

impl Canonical {
    /// `name=value` pairs of every field, sorted by name (byte order), joined by `&`.
    pub fn sorted_pairs() -> Self {
        Canonical {
            only: None,
            sorted: true,
            names: true,
            kv_separator: "=".into(),
            pair_separator: "&".into(),
        }
    }

    /// The values of every field, sorted by name (byte order), concatenated.
    pub fn sorted_values() -> Self {
        Canonical {
            names: false,
            pair_separator: String::new(),
            ..Self::sorted_pairs()
        }
    }

    /// Only these fields (by exact name; a name the request lacks is skipped).
    #[must_use]
    pub fn only(mut self, names: &[&str]) -> Self {
        self.only = Some(names.iter().map(|n| (*n).to_owned()).collect());
        self
    }

    /// Keep the order in which the fields are sent instead of sorting by name.
    #[must_use]
    pub fn in_order_sent(mut self) -> Self {
        self.sorted = false;
        self
    }

    /// The separator between a name and its value, and between two fields.
    #[must_use]
    pub fn separators(mut self, name_value: &str, between_fields: &str) -> Self {
        self.kv_separator = name_value.to_owned();
        self.pair_separator = between_fields.to_owned();
        self
    }

    /// The string to sign (the raw body, if any, is appended by [`Canonical::bytes`]).
    pub fn string(&self, request: &SignRequest<'_>) -> String {
        let mut fields: Vec<(&str, &str)> = request
            .fields()
            .iter()
            .filter(|(n, _)| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|o| o == n))
            })
            .copied()
            .collect();
        if self.sorted {
            fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        }
        let mut out = String::new();
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.pair_separator);
            }
            if self.names {
                out.push_str(name);
                out.push_str(&self.kv_separator);
            }
            out.push_str(value);
        }
        out
    }

    /// The bytes to sign: [`Canonical::string`] followed by the raw body, if any.
    pub fn bytes(&self, request: &SignRequest<'_>) -> Vec<u8> {
        let mut out = self.string(request).into_bytes();
        out.extend_from_slice(request.body());
        out
    }
}

/// The digest of a [`CanonicalSigner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA1 of the canonical bytes, keyed with the secret (20 bytes).
    HmacSha1,
    /// MD5 of the canonical bytes followed by the secret (16 bytes).
    Md5,
}

/// How the digest is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Output {
    /// Standard base64 with padding (RFC 4648 §4).
    Base64,
    /// Lowercase hexadecimal.
    HexLower,
    /// Uppercase hexadecimal.
    HexUpper,
}

/// A signer made of parts: canonical string, digest, output encoding, optional
/// percent-encoding ([`percent_encode`]). Defaults: [`Canonical::sorted_pairs`], no
/// percent-encoding, and base64 for HMAC-SHA1 or lowercase hex for MD5.
///
/// These are common building blocks, **not** a statement of any vendor's algorithm.
#[derive(Clone)]
pub struct CanonicalSigner {
    secret: Secret,
    algorithm: Algorithm,
    canonical: Canonical,
    output: Output,
    url_encoded: bool,
}

impl fmt::Debug for CanonicalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CanonicalSigner")
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm)
            .field("canonical", &self.canonical)
            .field("output", &self.output)
            .field("url_encoded", &self.url_encoded)
            .finish()
    }
}

impl CanonicalSigner {
    /// HMAC-SHA1 keyed with `secret`, base64 output.
    pub fn hmac_sha1(secret: impl Into<Secret>) -> Self {
        CanonicalSigner {
            secret: secret.into(),
            algorithm: Algorithm::HmacSha1,
            canonical: Canonical::default(),
            output: Output::Base64,
            url_encoded: false,
        }
    }

    /// MD5 of the canonical bytes followed by `secret`, lowercase hex output.
    pub fn md5(secret: impl Into<Secret>) -> Self {
        CanonicalSigner {
            secret: secret.into(),
            algorithm: Algorithm::Md5,
            canonical: Canonical::default(),
            output: Output::HexLower,
            url_encoded: false,
        }
    }

    /// Which fields are signed and how they are joined (default
    /// [`Canonical::sorted_pairs`]).
    #[must_use]
    pub fn canonical(mut self, canonical: Canonical) -> Self {
        self.canonical = canonical;
        self
    }

    /// How the digest is written as text (default: base64 for HMAC-SHA1, lowercase hex
    /// for MD5).
    #[must_use]
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Percent-encode the encoded digest ([`percent_encode`]), e.g. base64's `+`, `/`, `=`.
    #[must_use]
    pub fn url_encoded(mut self, on: bool) -> Self {
        self.url_encoded = on;
        self
    }

    /// The raw digest of a request (before output encoding).
    pub fn digest(&self, request: &SignRequest<'_>) -> Vec<u8> {
        let data = self.canonical.bytes(request);
        let secret = self.secret.expose().as_bytes();
        match self.algorithm {
            Algorithm::HmacSha1 => {
                // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
                let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
                mac.update(&data);
                mac.finalize().into_bytes().to_vec()
            }
            Algorithm::Md5 => {
                let mut hasher = Md5::new();
                hasher.update(&data);
                hasher.update(secret);
                hasher.finalize().to_vec()
            }
        }
    }
}

impl Signer for CanonicalSigner {
    fn sign(&self, request: &SignRequest<'_>) -> Result<String, SignError> {
        let digest = self.digest(request);
        let text = match self.output {
            Output::Base64 => base64::engine::general_purpose::STANDARD.encode(&digest),
            Output::HexLower => hex::encode(&digest),
            Output::HexUpper => hex::encode_upper(&digest),
        };
        Ok(if self.url_encoded {
            percent_encode(&text)
        } else {
            text
        })
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`),
/// with uppercase hex digits: `0++3c6h=` → `0%2B%2B3c6h%3D`.
pub fn percent_encode(text: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(text, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(fields: &'a [(&'a str, &'a str)]) -> SignRequest<'a> {
        SignRequest::new("a.method", fields)
    }

    #[test]
    fn canonical_strings() {
        let fields = [
            ("OpenId", "6dc0"),
            ("GrantCode", "782c"),
            ("Timestamp", "1547186244"),
            ("Nonce", "658965"),
            ("Action", "communal.user.coupons-vertify"),
            ("Params", r#"{"bizId":"b1"}"#),
        ];
        let r = request(&fields);
        assert_eq!(
            Canonical::sorted_pairs().string(&r),
            r#"Action=communal.user.coupons-vertify&GrantCode=782c&Nonce=658965&OpenId=6dc0&Params={"bizId":"b1"}&Timestamp=1547186244"#
        );
        assert_eq!(
            Canonical::sorted_values().string(&r),
            r#"communal.user.coupons-vertify782c6589656dc0{"bizId":"b1"}1547186244"#
        );
        assert_eq!(
            Canonical::sorted_pairs()
                .only(&["Timestamp", "OpenId", "Missing"])
                .string(&r),
            "OpenId=6dc0&Timestamp=1547186244"
        );
        assert_eq!(
            Canonical::sorted_pairs()
                .only(&["Timestamp", "OpenId"])
                .in_order_sent()
                .separators(":", "\n")
                .string(&r),
            "OpenId:6dc0\nTimestamp:1547186244"
        );
        let with_body = r.with_body(b"{}");
        assert!(
            Canonical::default()
                .bytes(&with_body)
                .ends_with(b"Timestamp=1547186244{}")
        );
    }

    #[test]
    fn hmac_sha1_vector() {
        // RFC 2202-style vector: HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog").
        let fields = [("m", "The quick brown fox jumps over the lazy dog")];
        let r = request(&fields);
        let signer = CanonicalSigner::hmac_sha1("key").canonical(Canonical::sorted_values());
        assert_eq!(
            hex::encode(signer.digest(&r)),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
        assert_eq!(signer.sign(&r).unwrap(), "3nybhbi3iqa8ino29wqQcBydtNk=");
        assert_eq!(
            signer.clone().url_encoded(true).sign(&r).unwrap(),
            "3nybhbi3iqa8ino29wqQcBydtNk%3D"
        );
        assert_eq!(
            signer.output(Output::HexUpper).sign(&r).unwrap(),
            "DE7C9B85B8B78AA6BC8A7A36F70A90701C9DB4D9"
        );
    }

    #[test]
    fn md5_appends_the_secret() {
        // MD5("The quick brown fox jumps over the lazy dog").
        let fields = [("m", "The quick brown fox jumps over the lazy ")];
        let signer = CanonicalSigner::md5("dog").canonical(Canonical::sorted_values());
        assert_eq!(
            signer.sign(&request(&fields)).unwrap(),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn percent_encoding_of_base64() {
        assert_eq!(
            percent_encode("0++3c6hthjwAml4ABAXOYF4Q6UY="),
            "0%2B%2B3c6hthjwAml4ABAXOYF4Q6UY%3D"
        );
        assert_eq!(percent_encode("a/b c~é"), "a%2Fb%20c~%C3%A9");
    }

    #[test]
    fn debug_hides_secrets_and_values() {
        let signer = CanonicalSigner::hmac_sha1("top-secret-key");
        assert!(!format!("{signer:?}").contains("top-secret-key"));
        let fields = [("GrantCode", "grant-secret")];
        assert!(!format!("{:?}", request(&fields)).contains("grant-secret"));
    }
}
