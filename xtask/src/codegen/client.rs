//! `client.rs`: the typed client: one accessor per endpoint group, one method per endpoint,
//! all of them thin calls of the runtime's generic `send`.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::runtime;
use super::types::{data_ty, ident};
use crate::ir::{Api, Credential, Data, Endpoint, Idempotency};

pub fn module(api: &Api) -> TokenStream {
    let rt = runtime::root();
    let head = format!(
        " The typed client of {} {}: `client.<group>().<endpoint>(request)`.",
        api.title, api.doc_version
    );
    let groups = groups(api);
    let accessors = groups.iter().map(|(group, endpoints)| {
        let method = ident(group);
        let ty = ident(&group_type(group));
        let doc = format!(
            " {}: {}.",
            group,
            endpoints
                .iter()
                .map(|e| format!("[`{}`]({}::{})", e.name, group_type(group), e.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        quote! {
            #[doc = #doc]
            pub fn #method(&self) -> #ty<'_> {
                #ty { client: &self.inner }
            }
        }
    });
    let group_defs = groups.iter().map(|(group, endpoints)| {
        let ty = ident(&group_type(group));
        let doc = format!(" The `{group}` endpoints.");
        let methods = endpoints.iter().map(|e| method(api, e));
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy)]
            pub struct #ty<'a> {
                client: &'a #rt::Client,
            }

            impl<'a> #ty<'a> {
                #(#methods)*
            }
        }
    });
    let builder_doc = if api.protocol.signing == "pluggable" {
        docs::attrs(&[
            format!(
                "Starts configuring a client: set a base URL (or a preset of\n\
             [`super::PROTOCOL`]), the app id, the grant code where the envelope carries one,\n\
             and the signer of your choice ([`ClientBuilder::signer`]({})), then `build()`.",
                runtime::doc_path("ClientBuilder::signer")
            ),
            "This API's signing algorithm is not published in the document the spec\n\
             describes (`protocol.signing: pluggable`): there is no default signer, and\n\
             `build()` fails until one is set."
                .to_owned(),
        ])
    } else {
        quote! {
            /// Starts configuring a client: set a base URL (or a preset of
            /// [`super::PROTOCOL`]), the app id and the app secret, then `build()`.
        }
    };
    // Only a style whose envelope carries a grant code lets the builder take one.
    let grant_code =
        if crate::validate::STYLES_WITH_GRANT_CODE.contains(&api.protocol.envelope.as_str()) {
            quote! {
                /// This API's envelope carries a grant code: the builder takes one.
                impl #rt::CarriesGrantCode for Client {}
            }
        } else {
            quote!()
        };
    // Only an API whose document publishes no signing algorithm takes the user's signer.
    let signer = if api.protocol.signing == "pluggable" {
        quote! {
            /// This API signs with the signer you choose: the builder takes one.
            impl #rt::TakesSigner for Client {}
        }
    } else {
        quote!()
    };
    let error_doc = format!(
        " The error of a call of this API: see [`{}`].",
        runtime::path_str("Error")
    );
    quote! {
        #![doc = #head]

        #[doc = #error_doc]
        pub type Error = #rt::Error<super::errors::ErrorCode>;

        /// A client of this API for one app. Cheap to clone; clones share connections,
        /// tokens and the clock correction.
        #[derive(Debug, Clone)]
        pub struct Client {
            inner: #rt::Client,
        }

        impl Client {
            #builder_doc
            pub fn builder() -> #rt::ClientBuilder<Client> {
                #rt::ClientBuilder::for_api(&super::PROTOCOL)
            }

            /// The runtime client, for generic calls (`send`, `items`) and monitoring.
            pub fn runtime(&self) -> &#rt::Client {
                &self.inner
            }

            #(#accessors)*
        }

        impl From<#rt::Client> for Client {
            fn from(inner: #rt::Client) -> Self {
                Client { inner }
            }
        }

        #grant_code

        #signer

        #(#group_defs)*
    }
}

/// Endpoints by group, groups in the order of their first endpoint. The protocol's token
/// calls have no client method: the runtime's token manager alone makes them, within the
/// daily budgets, and stores what they issue (their request types stay, for servers).
fn groups(api: &Api) -> Vec<(String, Vec<&Endpoint>)> {
    let is_token_call = |e: &Endpoint| {
        api.protocol
            .tokens
            .as_ref()
            .is_some_and(|t| t.obtain == e.method || t.refresh == e.method)
    };
    let mut groups: Vec<(String, Vec<&Endpoint>)> = Vec::new();
    for e in api.endpoints.iter().filter(|e| !is_token_call(e)) {
        match groups.iter_mut().find(|(g, _)| *g == e.group) {
            Some((_, list)) => list.push(e),
            None => groups.push((e.group.clone(), vec![e])),
        }
    }
    groups
}

fn group_type(group: &str) -> String {
    group.to_upper_camel_case()
}

/// Whether `e` is one of the token calls `protocol.tokens` names.
fn is_token_call(api: &Api, e: &Endpoint) -> bool {
    api.protocol
        .tokens
        .as_ref()
        .is_some_and(|t| t.obtain == e.method || t.refresh == e.method)
}

fn method(api: &Api, e: &Endpoint) -> TokenStream {
    let rt = runtime::root();
    let name = ident(&e.name);
    let req = ident(&e.request.name);
    let req_path = quote!(super::endpoints::#req);
    let models = quote!(super::models::);
    let data = data_ty(&e.data, &models);
    let mut paragraphs = vec![format!(
        "{} {} · `{}`",
        e.section,
        docs::escape(&e.title),
        e.method
    )];
    if !e.gloss.is_empty() {
        paragraphs.push(docs::escape(&e.gloss));
    }
    paragraphs.push(match e.idempotency {
        Idempotency::Read => "A read: safe to repeat.".to_owned(),
        Idempotency::Keyed => format!(
            "Idempotent by `{}`: repeat it only with the same key.",
            e.idempotency_key.as_deref().unwrap_or("?")
        ),
        Idempotency::Unsafe => {
            "Not idempotent: repeating it may apply it twice; it is never retried.".to_owned()
        }
    });
    if let Some(j) = &e.journal {
        paragraphs.push(journal_doc(j));
    }
    for (i, effect) in e.effects.iter().enumerate() {
        let lead = if i == 0 { "**Effects.** " } else { "" };
        paragraphs.push(format!("{lead}{}", docs::escape(effect)));
    }
    if e.credential != Credential::AccessToken && is_token_call(api, e) {
        paragraphs.push(
            "The client obtains and refreshes tokens by itself; a call sent by hand spends \
             the day's budget of this call and its token is not stored."
                .to_owned(),
        );
    }
    let doc = docs::attrs(&paragraphs);
    if let (Some(_), Data::List(_)) = (&e.paging, &e.data) {
        let stream = ident(&format!("{}_stream", e.name));
        let stream_doc = format!(
            " Every item of [`{}`](Self::{}), page after page from the request's page, \
             fetched as it is read: `.next().await`, `.try_collect().await`, or as a `Stream`.",
            e.name, e.name
        );
        quote! {
            #doc
            ///
            /// Returns one page with the reply's paging facts; see the `_stream` method for
            /// every item. Sent when awaited; set per-call options first if needed
            /// (`.timeout(d)`, `.retry(policy)`).
            pub fn #name(
                &self,
                request: #req_path,
            ) -> #rt::Call<'a, #req_path, #rt::Response<#data>> {
                #rt::Call::response(self.client, request)
            }

            #[doc = #stream_doc]
            pub fn #stream(&self, request: #req_path) -> #rt::Items<#req_path> {
                self.client.items(request)
            }
        }
    } else {
        quote! {
            #doc
            ///
            /// Sent when awaited; set per-call options first if needed (`.timeout(d)`,
            /// `.retry(policy)`).
            pub fn #name(&self, request: #req_path) -> #rt::Call<'a, #req_path, #data> {
                #rt::Call::data(self.client, request)
            }
        }
    }
}

/// How a journalled write is made safe: the way its spec's `journal` settles it.
pub(crate) fn journal_doc(j: &crate::ir::Journal) -> String {
    let how = match j.settle {
        crate::ir::Settle::Keyed { conflict_code } => format!(
            "re-sent identical under its key until settled ({conflict_code} after a possible \
             landing means applied)"
        ),
        crate::ir::Settle::Identical => {
            "re-sent identical until settled (an identical repeat answers the first answer)"
                .to_owned()
        }
        crate::ir::Settle::Probe => format!(
            "probed with `{}` before any re-send",
            j.probe.as_deref().unwrap_or("?")
        ),
        crate::ir::Settle::Never => {
            "never re-sent: an unknown outcome waits for an operator".to_owned()
        }
    };
    format!(
        "To apply it exactly once through lost replies, outages and restarts, submit it to \
         the write journal (`gree_ump::journal::Journal::submit`): it is {how}, in order with \
         the writes to the same member or order."
    )
}
