//! Request signing ([`SigningScheme::UmpMd5`](crate::SigningScheme::UmpMd5)).
//!
//! `sign = hex(MD5(name1 value1 name2 value2 … body secret))` with the query parameters
//! (all but the signature's own, whose name the spec gives) sorted by name in byte order. The pieces are streamed into the hasher
//! one by one: no concatenated string is ever built, so a large body is hashed in place.

use std::fmt;

use md5::{Digest, Md5};

/// A computed signature: 32 lowercase hex digits, kept on the stack.
///
/// Its `Debug` is redacted: a signature is a credential for the one request it signs,
/// and error messages must not carry it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl Signature {
    /// The 32 lowercase hex digits, as sent in the `sign` parameter.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    fn from_digest(digest: &[u8; 16]) -> Self {
        let mut out = [0u8; 32];
        // 16 bytes fill the 32 digits exactly: the lengths always match.
        let _ = hex::encode_to_slice(digest, &mut out);
        Signature(out)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature([REDACTED])")
    }
}

/// Signs a request whose parameters are already sorted by name (see [`sort_params`]).
///
/// The hot path: the client sorts its small parameter list once, signs it and then writes
/// the URL in the same order, so nothing is copied.
pub fn sign_sorted<N, V>(sorted_params: &[(N, V)], body: &[u8], secret: &[u8]) -> Signature
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut hasher = Md5::new();
    for (name, value) in sorted_params {
        let name = name.as_ref();
        hasher.update(name.as_bytes());
        hasher.update(value.as_ref().as_bytes());
    }
    hasher.update(body);
    hasher.update(secret);
    let digest: [u8; 16] = hasher.finalize().into();
    Signature::from_digest(&digest)
}

/// Sorts parameters by name in byte order, as the scheme requires. Stable, so repeated
/// names keep their relative order.
pub fn sort_params<N: AsRef<str>, V>(params: &mut [(N, V)]) {
    params.sort_by(|a, b| a.0.as_ref().as_bytes().cmp(b.0.as_ref().as_bytes()));
}

/// Signs a request: sorts a copy of the parameter references, then [`sign_sorted`].
pub fn sign<N, V>(params: &[(N, V)], body: &[u8], secret: &[u8]) -> Signature
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut refs: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .collect();
    sort_params(&mut refs);
    sign_sorted(&refs, body, secret)
}

/// Checks a received request's signature (for servers and emulators): `params` are the
/// decoded query parameters in any order, the signature's own (`sign_param`) among them
/// or not (it is skipped), `provided` is the received signature. Hex case is ignored; the
/// comparison of the digests takes the same time wherever they differ.
pub fn verify<N, V>(
    params: &[(N, V)],
    sign_param: &str,
    body: &[u8],
    secret: &[u8],
    provided: &str,
) -> bool
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let signed: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .filter(|(n, _)| *n != sign_param)
        .collect();
    let expected = sign(&signed, body, secret);
    constant_time_eq_hex(&expected.0, provided.as_bytes())
}

/// Compares lowercase hex `expected` with `provided` (either case) without an early exit.
fn constant_time_eq_hex(expected: &[u8; 32], provided: &[u8]) -> bool {
    if provided.len() != expected.len() {
        return false;
    }
    let mut diff = 0u8;
    for (e, p) in expected.iter().zip(provided) {
        // ASCII lowercase of a hex letter; other bytes stay different from any hex digit.
        let p = if p.is_ascii_uppercase() { p | 0x20 } else { *p };
        diff |= e ^ p;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_vector() {
        let params = [
            ("foo", "1"),
            ("bar", "2"),
            ("foo_bar", "3"),
            ("foobar", "4"),
        ];
        let sig = sign(&params, br#"{"orderNo":123}"#, b"XYZ");
        assert_eq!(sig.as_str(), "546e4aa36d2d624da5ff816ca030951c");
    }

    #[test]
    fn sign_param_is_skipped_and_verify_ignores_case() {
        let params = [
            ("foo", "1"),
            ("sign", "whatever"),
            ("bar", "2"),
            ("foo_bar", "3"),
            ("foobar", "4"),
        ];
        let body = br#"{"orderNo":123}"#;
        assert!(verify(
            &params,
            "sign",
            body,
            b"XYZ",
            "546e4aa36d2d624da5ff816ca030951c"
        ));
        assert!(verify(
            &params,
            "sign",
            body,
            b"XYZ",
            "546E4AA36D2D624DA5FF816CA030951C"
        ));
        assert!(!verify(
            &params,
            "sign",
            body,
            b"XYZ",
            "546e4aa36d2d624da5ff816ca030951d"
        ));
        assert!(!verify(&params, "sign", body, b"XYZ", "546e4aa3"));
        assert!(!verify(
            &params,
            "sign",
            body,
            b"XYZW",
            "546e4aa36d2d624da5ff816ca030951c"
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let sig = sign(&[("a", "b")], b"", b"s");
        assert!(!format!("{sig:?}").contains(sig.as_str()));
    }
}
