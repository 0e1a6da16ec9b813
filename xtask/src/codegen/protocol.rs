//! `mod.rs`: declares the generated modules and the API's protocol facts.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::quote;

use super::runtime;

use super::GENERATOR;
use super::types::ident;
use crate::ir::{Api, MethodIn};

pub fn module(api: &Api) -> TokenStream {
    let rt = runtime::root();
    let p = &api.protocol;
    let head = format!(
        " Generated from `{}` ({} {}, {}).",
        api.spec_path, api.title, api.doc_version, api.gloss
    );
    let name = &api.name;
    let doc_version = &api.doc_version;
    let document = &api.document;
    let spec = &api.spec_path;
    let envelope = ident(&p.envelope.to_upper_camel_case());
    let signing = ident(&p.signing.to_upper_camel_case());
    let path = &p.path;
    let base_urls = p.base_urls.iter().map(|(k, v)| quote!((#k, #v)));
    let success = match p.success_code {
        Some(c) => quote!(Some(#c)),
        None => quote!(None),
    };
    let timestamp = ident(&p.timestamp.to_upper_camel_case());
    let tolerance = match p.clock_tolerance_ms {
        Some(t) => quote!(Some(#t)),
        None => quote!(None),
    };
    let utc_offset = p.utc_offset_s;
    let opt = |v: &Option<String>| match v {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    };
    let (timestamp_param, sign_param) = (opt(&p.timestamp_param), opt(&p.sign_param));
    let envelope_keys = p.envelope_keys.iter().map(|(part, keys)| {
        let part = super::types::ident(part);
        quote!(#part: &[#(#keys),*],)
    });
    let codes = &p.invalid_token_codes;
    let patterns = &p.invalid_token_patterns;
    let ambiguous = &p.ambiguous_token_codes;
    let verb_refusal = &p.verb_refusal_codes;
    let tokens = match &p.tokens {
        None => quote!(None),
        Some(t) => {
            let (o, r, a, at, rtp, atk, rtk, ek) = (
                &t.obtain,
                &t.refresh,
                &t.app_id_param,
                &t.access_token_param,
                &t.refresh_token_param,
                &t.access_token_key,
                &t.refresh_token_key,
                &t.expires_in_key,
            );
            let (al, rl) = (t.access_token_lifetime_s, t.refresh_token_lifetime_s);
            let limit = |l: Option<u32>| match l {
                Some(n) => quote!(Some(#n)),
                None => quote!(None),
            };
            let (ol, fl) = (limit(t.obtain_daily_limit), limit(t.refresh_daily_limit));
            quote!(Some(#rt::TokenProtocol {
                obtain_method: #o,
                refresh_method: #r,
                app_id_param: #a,
                access_token_param: #at,
                refresh_token_param: #rtp,
                access_token_key: #atk,
                refresh_token_key: #rtk,
                expires_in_key: #ek,
                access_token_lifetime_s: #al,
                refresh_token_lifetime_s: #rl,
                obtain_daily_limit: #ol,
                refresh_daily_limit: #fl,
            }))
        }
    };
    let method_doc = match p.method_in {
        MethodIn::Path => quote!(),
        MethodIn::Envelope => {
            let d = format!(
                " Every call is sent to `{path}`: the method name travels in the request envelope."
            );
            quote! {
                ///
                #[doc = #d]
            }
        }
    };
    // Every wire name (and alias) of a sensitive field of any type, sorted: the runtime
    // redacts these keys in body excerpts and scrubs the values a request sends under them.
    let sensitive: std::collections::BTreeSet<&str> = api
        .structs
        .iter()
        .chain(api.endpoints.iter().map(|e| &e.request))
        .flat_map(|s| &s.fields)
        .filter(|f| f.sensitive.is_some())
        .flat_map(|f| std::iter::once(&f.wire).chain(&f.aliases))
        .map(String::as_str)
        .collect();
    let sensitive = sensitive.iter();
    let errata = api.errata.len();
    let errata_doc = format!(
        " How many errata (contradictions of the document, each decided) the spec records: {errata}."
    );
    quote! {
        #![doc = #head]

        pub mod client;
        pub mod endpoints;
        pub mod errors;
        pub mod models;
        /// Only what reads requests back routes them (the sandbox, the write journal):
        /// behind the generated crate's `decode` feature, so other clients do not
        /// compile it.
        #[cfg(feature = "decode")]
        pub mod routes;

        /// The spec file this code was generated from.
        pub const SPEC: &str = #spec;
        /// The vendor document the spec describes.
        pub const DOCUMENT: &str = #document;
        /// The generator that wrote this code.
        pub const GENERATOR: &str = #GENERATOR;
        #[doc = #errata_doc]
        pub const ERRATA: usize = #errata;

        /// Protocol facts of this API, for the runtime.
        #method_doc
        pub const PROTOCOL: #rt::ProtocolInfo = #rt::ProtocolInfo {
            api: #name,
            doc_version: #doc_version,
            envelope: #rt::EnvelopeStyle::#envelope,
            signing: #rt::SigningScheme::#signing,
            path_template: #path,
            base_urls: &[#(#base_urls),*],
            success_code: #success,
            timestamp: #rt::TimestampUnit::#timestamp,
            clock_tolerance_ms: #tolerance,
            utc_offset_s: #utc_offset,
            timestamp_param: #timestamp_param,
            sign_param: #sign_param,
            invalid_token_codes: &[#(#codes),*],
            invalid_token_patterns: &[#(#patterns),*],
            ambiguous_token_codes: &[#(#ambiguous),*],
            verb_refusal_codes: &[#(#verb_refusal),*],
            tokens: #tokens,
            sensitive_keys: &[#(#sensitive),*],
            envelope_keys: #rt::EnvelopeKeys { #(#envelope_keys)* },
        };
    }
}
