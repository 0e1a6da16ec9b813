//! `routes.rs`: every endpoint as one enum, decodable from a method name and a body, so a
//! server (the sandbox) routes and validates requests from the same spec as the client.

use proc_macro2::TokenStream;
use quote::quote;

use super::runtime;

use super::types::ident;
use crate::ir::Api;

pub fn module(api: &Api) -> TokenStream {
    let rt = runtime::root();
    let head = format!(
        " Route table of {} {}: decode any request by method name.",
        api.title, api.doc_version
    );
    let variants: Vec<_> = api
        .endpoints
        .iter()
        .map(|e| (ident(&e.type_stem()), ident(&e.request.name), &e.method))
        .collect();
    let defs = variants.iter().map(|(v, r, m)| {
        let doc = format!(" `{m}`");
        quote!(#[doc = #doc] #v(super::endpoints::#r),)
    });
    let infos = variants
        .iter()
        .map(|(_, r, _)| quote!(<super::endpoints::#r as #rt::Endpoint>::INFO));
    let decode = variants.iter().map(|(v, r, m)| {
        quote!(#m => Some(::serde_json::from_slice::<super::endpoints::#r>(body).map(Self::#v)),)
    });
    let info_of = variants
        .iter()
        .map(|(v, r, _)| quote!(Self::#v(_) => &<super::endpoints::#r as #rt::Endpoint>::INFO,));
    let missing = api.endpoints.iter().flat_map(|e| {
        e.request.fields.iter().filter_map(move |f| {
            let (method, wire) = (&e.method, &f.wire);
            f.missing_error.map(|code| {
                let code = super::types::int(code);
                quote!((#method, #wire, super::errors::ErrorCode::from_code(#code)))
            })
        })
    });
    let validate = variants
        .iter()
        .map(|(v, _, _)| quote!(Self::#v(r) => #rt::Endpoint::validate(r),));
    quote! {
        #![doc = #head]

        /// Any request of this API, decoded from the wire.
        // Variants are requests as sized as the spec makes them (one per request, held
        // briefly by a server); boxing them would change the variants' types.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum AnyRequest {
            #(#defs)*
        }

        impl AnyRequest {
            /// Every endpoint, in the document's order.
            pub const ENDPOINTS: &'static [#rt::EndpointInfo] = &[#(#infos),*];

            /// Required request fields whose absence the platform answers with a code of
            /// their own rather than the generic invalid-parameter code (the spec's
            /// `missing_error`): (method, wire name, code).
            pub const MISSING_FIELD_ERRORS: &'static [(&'static str, &'static str, super::errors::ErrorCode)] = &[#(#missing),*];

            /// The endpoint of a method name.
            pub fn endpoint(method: &str) -> Option<&'static #rt::EndpointInfo> {
                Self::ENDPOINTS.iter().find(|e| e.method == method)
            }

            /// Decodes a request body for a method; `None` for an unknown method. An empty
            /// body decodes as `{}` (calls whose parameters all travel in the query).
            pub fn decode(method: &str, body: &[u8]) -> Option<Result<Self, ::serde_json::Error>> {
                let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
                match method {
                    #(#decode)*
                    _ => None,
                }
            }

            /// The endpoint this request is for.
            pub fn info(&self) -> &'static #rt::EndpointInfo {
                match self {
                    #(#info_of)*
                }
            }

            /// The rules the type cannot express (see each request's `validate`).
            pub fn validate(&self) -> Result<(), #rt::RequestError> {
                match self {
                    #(#validate)*
                }
            }
        }
    }
}
