//! `endpoints.rs`: one request type per endpoint and its `Endpoint` (and `Paged`) impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::runtime;
use super::types::{data_ty, ident, int, is_optional, rust_ty, struct_def};
use crate::ir::{
    Api, Credential, Data, Encoding, Endpoint, Field, Idempotency, Rule, StructStyle, Ty, Verb,
};

pub fn module(api: &Api) -> TokenStream {
    let head = format!(
        " Request types of {} {}: one per endpoint, each an `Endpoint` the runtime can send.",
        api.title, api.doc_version
    );
    let items = api.endpoints.iter().map(|e| endpoint(api, e));
    quote! {
        #![doc = #head]
        #[allow(unused_imports)]
        use super::models::*;
        #(#items)*
    }
}

fn verb(v: Verb) -> TokenStream {
    let rt = runtime::root();
    match v {
        Verb::Get => quote!(#rt::Verb::Get),
        Verb::Post => quote!(#rt::Verb::Post),
    }
}

fn endpoint(api: &Api, e: &Endpoint) -> TokenStream {
    let rt = runtime::root();
    let req = ident(&e.request.name);
    let mut about = vec![format!(
        "{} {} · `{}` · {}",
        e.section,
        docs::escape(&e.title),
        e.method,
        match e.idempotency {
            Idempotency::Read => "a read (safe to retry)".to_string(),
            Idempotency::Keyed => format!(
                "a write made idempotent by `{}` (safe to retry with the same key)",
                e.idempotency_key.as_deref().unwrap_or("?")
            ),
            Idempotency::Unsafe => "a write without idempotency key (never retried)".to_string(),
        }
    )];
    if let Some(j) = &e.journal {
        about.push(super::client::journal_doc(j));
    }
    if e.doc_verb != e.verb {
        about.push(format!(
            "The section says {}; it is sent as {} (see the spec's errata).",
            e.doc_verb_str(),
            e.verb_str()
        ));
    }
    if let Some(rl) = &e.rate_limit_doc {
        about.push(format!(
            "Rate limit: {} ({}).",
            docs::escape(rl),
            e.daily_limit.unwrap_or(0)
        ));
    }
    if !e.runtime_params.is_empty() {
        let ps: Vec<String> = e.runtime_params.iter().map(|p| docs::code(p)).collect();
        about.push(format!("Supplied by the runtime: {}.", ps.join(", ")));
    }
    for r in &e.rules {
        about.push(match r {
            Rule::OneOf { fields, doc, .. } => {
                let names: Vec<String> = fields.iter().map(|(w, _)| docs::code(w)).collect();
                format!("Rule: one of {} ({}).", names.join(", "), docs::escape(doc))
            }
            Rule::RequiredIf {
                field,
                when,
                equals,
                doc,
            } => format!(
                "Rule: {} is required when {} is {equals} ({}).",
                docs::code(&field.0),
                docs::code(&when.0),
                docs::escape(doc)
            ),
            Rule::RequiredUnless {
                field,
                when,
                equals,
                doc,
            } => format!(
                "Rule: {} is required unless {} is {equals} ({}).",
                docs::code(&field.0),
                docs::code(&when.0),
                docs::escape(doc)
            ),
            Rule::Items {
                field,
                min,
                max,
                when_set,
                doc,
            } => {
                let count = match (min, max) {
                    (Some(lo), Some(hi)) if lo == hi => format!("exactly {lo}"),
                    (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                    (Some(lo), None) => format!("at least {lo}"),
                    (None, Some(hi)) => format!("at most {hi}"),
                    (None, None) => "any number of".to_string(),
                };
                let unit = match (min, max) {
                    (Some(1), None | Some(1)) | (None, Some(1)) => "item",
                    _ => "items",
                };
                let when = match when_set {
                    Some((w, _)) => format!(" while {} is set", docs::code(w)),
                    None => String::new(),
                };
                format!(
                    "Rule: {} holds {count} {unit}{when} ({}).",
                    docs::code(&field.0),
                    docs::escape(doc)
                )
            }
        });
    }
    if !e.errors.is_empty() {
        let codes: Vec<String> = e.errors.iter().map(|c| format!("`{c}`")).collect();
        about.push(format!("Error codes: {}.", codes.join(", ")));
    }
    let errata: Vec<String> = api
        .errata_of(&e.section)
        .map(|x| format!("{} ({})", docs::code(&x.id), docs::escape(&x.topic)))
        .collect();
    if !errata.is_empty() {
        about.push(format!(
            "Errata of section {} (the spec's `errata`): {}.",
            e.section,
            errata.join(", ")
        ));
    }
    let def = struct_def(&e.request, &quote!(), &about, "request");

    let method = &e.method;
    let section = &e.section;
    let doc_verb = verb(e.doc_verb);
    let send_verb = verb(e.verb);
    let credential = match e.credential {
        Credential::AppSignature => quote!(AppSignature),
        Credential::RefreshToken => quote!(RefreshToken),
        Credential::AccessToken => quote!(AccessToken),
    };
    let idempotency = match e.idempotency {
        Idempotency::Read => quote!(Read),
        Idempotency::Keyed => quote!(Keyed),
        Idempotency::Unsafe => quote!(Unsafe),
    };
    let key_wire = e.idempotency_key.as_ref().and_then(|k| {
        e.request
            .fields
            .iter()
            .find(|f| &f.name == k)
            .map(|f| f.wire.clone())
    });
    let key_wire = match key_wire {
        Some(w) => quote!(Some(#w)),
        None => quote!(None),
    };
    let daily = match e.daily_limit {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    };
    let data = data_ty(&e.data, &quote!());
    // Only an endpoint the spec gives no data may succeed without it.
    let data_required = !matches!(e.data, Data::None);
    let false_is_error = match e.data {
        Data::Confirmation { false_is_error } => {
            let code = super::types::int(false_is_error);
            quote!(Some(#code))
        }
        _ => quote!(None),
    };
    let journal = journal_info(e);
    let validate = validate_body(e);
    let key_fn = match &e.idempotency_key {
        Some(k) => {
            let k = ident(k);
            quote! {
                fn idempotency_key(&self) -> Option<&str> {
                    Some(&self.#k)
                }
            }
        }
        None => quote!(),
    };
    let query = query_fn(e);
    let paged = paged_impl(e);
    quote! {
        #def

        impl #rt::Endpoint for #req {
            type Data = #data;
            type Code = super::errors::ErrorCode;

            const INFO: #rt::EndpointInfo = #rt::EndpointInfo {
                method: #method,
                section: #section,
                doc_verb: #doc_verb,
                verb: #send_verb,
                credential: #rt::Credential::#credential,
                idempotency: #rt::Idempotency::#idempotency,
                idempotency_key: #key_wire,
                daily_limit: #daily,
                data_required: #data_required,
                false_is_error: #false_is_error,
                journal: #journal,
            };

            fn validate(&self) -> Result<(), #rt::RequestError> {
                #validate
            }

            #key_fn
            #query
        }

        #paged
    }
}

/// The endpoint's `JournalInfo`, or `None` when it is not journalled.
fn journal_info(e: &Endpoint) -> TokenStream {
    let rt = super::runtime::root();
    let Some(j) = &e.journal else {
        return quote!(None);
    };
    let settle = match j.settle {
        crate::ir::Settle::Keyed { conflict_code } => {
            let code = super::types::int(conflict_code);
            quote!(#rt::Settle::Keyed { conflict_code: #code })
        }
        crate::ir::Settle::Identical => quote!(#rt::Settle::Identical),
        crate::ir::Settle::Probe => quote!(#rt::Settle::Probe),
        crate::ir::Settle::Never => quote!(#rt::Settle::Never),
    };
    let probe = match &j.probe {
        Some(p) => quote!(Some(#p)),
        None => quote!(None),
    };
    let keys = j
        .order_keys
        .iter()
        .map(|(kind, path)| quote!((#kind, #path)));
    let after = j
        .after_keys
        .iter()
        .map(|(kind, path)| quote!((#kind, #path)));
    quote! {
        Some(#rt::JournalInfo {
            settle: #settle,
            probe: #probe,
            order_keys: &[#(#keys),*],
            after_keys: &[#(#after),*],
        })
    }
}

fn field_by_name<'a>(e: &'a Endpoint, name: &str) -> Option<&'a Field> {
    e.request.fields.iter().find(|f| f.name == name)
}

/// Checks, in field order: required strings non-empty (each run of them one call of the
/// runtime's `require_non_empty`), comma-joined items encodable; then the rules.
fn validate_body(e: &Endpoint) -> TokenStream {
    let rt = runtime::root();
    let method = &e.method;
    let mut checks = Vec::new();
    let mut non_empty: Vec<TokenStream> = Vec::new();
    let flush = |non_empty: &mut Vec<TokenStream>, checks: &mut Vec<TokenStream>| {
        if !non_empty.is_empty() {
            let pairs = non_empty.drain(..);
            checks.push(quote! {
                #rt::validation::require_non_empty(#method, &[#(#pairs),*])?;
            });
        }
    };
    for f in &e.request.fields {
        let n = ident(&f.name);
        let wire = &f.wire;
        let optional = is_optional(f, StructStyle::Request);
        if matches!(f.ty, Ty::Id | Ty::String) && !optional {
            non_empty.push(quote!((#wire, self.#n.as_str())));
        }
        if f.encoding == Encoding::CommaJoined {
            flush(&mut non_empty, &mut checks);
            let items = if optional {
                quote!(self.#n.as_deref().unwrap_or_default())
            } else {
                quote!(&self.#n)
            };
            checks.push(quote! {
                if let Err(reason) = #rt::wire::comma_joined::check(#items) {
                    return Err(#rt::RequestError::Encoding { method: #method, field: #wire, reason });
                }
            });
        }
    }
    flush(&mut non_empty, &mut checks);
    for r in &e.rules {
        match r {
            Rule::OneOf { fields, error, .. } => {
                let unset = fields.iter().map(|(_, name)| {
                    let n = ident(name);
                    match field_by_name(e, name).map(|f| &f.ty) {
                        Some(Ty::String) => {
                            quote!(self.#n.as_deref().is_none_or(|v| v.trim().is_empty()))
                        }
                        _ => quote!(self.#n.is_none()),
                    }
                });
                let wires = fields.iter().map(|(w, _)| w);
                let code = match error {
                    Some(c) => {
                        let c = int(*c);
                        quote!(Some(#c))
                    }
                    None => quote!(None),
                };
                checks.push(quote! {
                    if #(#unset)&&* {
                        return Err(#rt::RequestError::OneOfMissing { method: #method, fields: &[#(#wires),*], code: #code });
                    }
                });
            }
            Rule::RequiredIf {
                field,
                when,
                equals,
                ..
            } => {
                let f = ident(&field.1);
                let fw = &field.0;
                let ww = &when.0;
                let when_value = when_value(e, &when.1);
                checks.push(quote! {
                    if #when_value == Some(#equals) && self.#f.is_none() {
                        return Err(#rt::RequestError::RequiredIf {
                            method: #method, field: #fw, when: #ww, equals: #equals,
                        });
                    }
                });
            }
            Rule::RequiredUnless {
                field,
                when,
                equals,
                ..
            } => {
                let f = ident(&field.1);
                let fw = &field.0;
                let ww = &when.0;
                let when_value = when_value(e, &when.1);
                checks.push(quote! {
                    if #when_value != Some(#equals) && self.#f.is_none() {
                        return Err(#rt::RequestError::RequiredUnless {
                            method: #method, field: #fw, when: #ww, equals: #equals,
                        });
                    }
                });
            }
            Rule::Items {
                field,
                min,
                max,
                when_set,
                ..
            } => {
                let f = ident(&field.1);
                let fw = &field.0;
                let lit = |n: &u32| proc_macro2::Literal::u32_unsuffixed(*n);
                let bad = match (min.as_ref().map(lit), max.as_ref().map(lit)) {
                    (Some(lo), Some(hi)) => quote!(!(#lo..=#hi).contains(&found)),
                    (Some(lo), None) => quote!(found < #lo),
                    (None, Some(hi)) => quote!(found > #hi),
                    // The validator requires min or max.
                    (None, None) => quote!(false),
                };
                let limit = |l: &Option<u32>| match l.as_ref().map(lit) {
                    Some(n) => quote!(Some(#n)),
                    None => quote!(None),
                };
                let (lo, hi) = (limit(min), limit(max));
                let (guard, when_wire) = match when_set {
                    Some((w, name)) => {
                        let n = ident(name);
                        (quote!(self.#n.is_some() &&), quote!(Some(#w)))
                    }
                    None => (quote!(), quote!(None)),
                };
                let error = quote! {
                    return Err(#rt::RequestError::ItemCount {
                        method: #method, field: #fw, min: #lo, max: #hi, when_set: #when_wire, found,
                    });
                };
                let optional = field_by_name(e, &field.1)
                    .is_some_and(|fd| is_optional(fd, StructStyle::Request));
                checks.push(if optional {
                    quote! {
                        if let Some(found) = self.#f.as_ref().map(Vec::len) && #guard #bad {
                            #error
                        }
                    }
                } else {
                    quote! {
                        let found = self.#f.len();
                        if #guard #bad {
                            #error
                        }
                    }
                });
            }
        }
    }
    quote! {
        #(#checks)*
        Ok(())
    }
}

/// The value of an integer or enum request field as `Option<i64>`.
fn when_value(e: &Endpoint, name: &str) -> TokenStream {
    let w = ident(name);
    match field_by_name(e, name) {
        Some(wf) if is_optional(wf, StructStyle::Request) => match wf.ty {
            Ty::Enum(_) => quote!(self.#w.map(|v| v.code())),
            _ => quote!(self.#w.map(i64::from)),
        },
        Some(wf) => match wf.ty {
            Ty::Enum(_) => quote!(Some(self.#w.code())),
            _ => quote!(Some(i64::from(self.#w))),
        },
        None => quote!(None::<i64>),
    }
}

fn query_fn(e: &Endpoint) -> TokenStream {
    let rt = runtime::root();
    let q: Vec<&Field> = e.request.fields.iter().filter(|f| f.in_query).collect();
    if q.is_empty() {
        return quote!();
    }
    let pushes = q.iter().map(|f| {
        let n = ident(&f.name);
        let w = &f.wire;
        if is_optional(f, StructStyle::Request) {
            quote! {
                if let Some(v) = &self.#n {
                    params.push((#w, #rt::wire::query_value(v)));
                }
            }
        } else {
            quote!(params.push((#w, #rt::wire::query_value(&self.#n)));)
        }
    });
    quote! {
        fn query_params(&self) -> Vec<(&'static str, String)> {
            let mut params = Vec::new();
            #(#pushes)*
            params
        }
    }
}

fn paged_impl(e: &Endpoint) -> TokenStream {
    let rt = runtime::root();
    let (Some(p), Data::List(item)) = (&e.paging, &e.data) else {
        return quote!();
    };
    let req = ident(&e.request.name);
    let item = rust_ty(item, &quote!());
    let (Some(no), Some(size)) = (field_by_name(e, &p.page_no), field_by_name(e, &p.page_size))
    else {
        return quote!();
    };
    let no_ident = ident(&no.name);
    let size_ident = ident(&size.name);
    let no_ty = rust_ty(&no.ty, &quote!());
    let get_no = if is_optional(no, StructStyle::Request) {
        quote!(self.#no_ident.map(i64::from).unwrap_or(1))
    } else {
        quote!(i64::from(self.#no_ident))
    };
    let get_size = if is_optional(size, StructStyle::Request) {
        quote!(self.#size_ident.map(i64::from))
    } else {
        quote!(Some(i64::from(self.#size_ident)))
    };
    let converted = quote!(<#no_ty>::try_from(page_no).unwrap_or(<#no_ty>::MAX));
    let set_no = if is_optional(no, StructStyle::Request) {
        quote!(next.#no_ident = Some(#converted);)
    } else {
        quote!(next.#no_ident = #converted;)
    };
    quote! {
        impl #rt::Paged for #req {
            type Item = #item;

            fn page_no(&self) -> i64 {
                #get_no
            }

            fn page_size(&self) -> Option<i64> {
                #get_size
            }

            fn with_page_no(&self, page_no: i64) -> Self {
                let mut next = self.clone();
                #set_no
                next
            }

            fn into_items(data: Self::Data) -> Vec<Self::Item> {
                data
            }
        }
    }
}
