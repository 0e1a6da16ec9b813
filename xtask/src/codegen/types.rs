//! Structs and their fields: the Rust type of a spec type, the serde attributes of an
//! encoding, constructors and setters for request-style structs.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::docs;
use super::runtime;
use crate::ir::{Data, Encoding, Field, Struct, StructStyle, Ty};

/// An integer literal without a type suffix (`200`, not `200i64`).
pub fn int(value: i64) -> proc_macro2::Literal {
    proc_macro2::Literal::i64_unsuffixed(value)
}

pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// The Rust type of a spec type; named types are resolved in `models`.
pub fn rust_ty(ty: &Ty, models: &TokenStream) -> TokenStream {
    let rt = runtime::root();
    let wire = quote!(#rt::wire);
    match ty {
        Ty::String => quote!(String),
        Ty::Bool => quote!(bool),
        Ty::I32 => quote!(i32),
        Ty::I64 => quote!(i64),
        Ty::Yuan => quote!(#wire::Yuan),
        Ty::Fen => quote!(#wire::Fen),
        Ty::Date(zone) => {
            let date = ident(zone.date);
            quote!(#wire::#date)
        }
        Ty::DateTime(zone) => {
            let datetime = ident(zone.datetime);
            quote!(#wire::#datetime)
        }
        Ty::TimestampMs => quote!(#wire::TimestampMs),
        Ty::Json => quote!(::serde_json::Value),
        Ty::Id => quote!(#wire::Id),
        Ty::List(inner) => {
            let inner = rust_ty(inner, models);
            quote!(Vec<#inner>)
        }
        Ty::Enum(name) | Ty::Struct(name) => {
            let name = ident(name);
            quote!(#models #name)
        }
    }
}

/// The Rust type of an endpoint's `data`; named types are resolved in `models`.
pub fn data_ty(d: &Data, models: &TokenStream) -> TokenStream {
    match d {
        Data::None | Data::Confirmation { .. } => quote!(()),
        Data::One(t) => rust_ty(t, models),
        Data::List(t) => {
            let t = rust_ty(t, models);
            quote!(Vec<#t>)
        }
    }
}

fn ty_name(ty: &Ty) -> String {
    match ty {
        Ty::String => "string".into(),
        Ty::Bool => "bool".into(),
        Ty::I32 => "i32".into(),
        Ty::I64 => "i64".into(),
        Ty::Yuan => "yuan".into(),
        Ty::Fen => "fen (an integer)".into(),
        Ty::Date(zone) => format!("date (yyyy-MM-dd, {})", zone.time_zone),
        Ty::DateTime(zone) => format!("datetime (yyyy-MM-dd HH:mm:ss, {})", zone.time_zone),
        Ty::TimestampMs => "timestamp in milliseconds".into(),
        Ty::Json => "JSON".into(),
        Ty::Id => "identifier (exact text; a JSON integer on the wire when it is one)".into(),
        Ty::List(inner) => format!("list of {}", ty_name(inner)),
        Ty::Enum(n) | Ty::Struct(n) => n.clone(),
    }
}

/// Whether the field is an `Option` in this struct.
pub fn is_optional(field: &Field, style: StructStyle) -> bool {
    style == StructStyle::Tolerant || !field.required
}

/// A field's doc: the document's wording, the gloss, then the wire facts. Whether it is
/// required is said of the type as generated: a field of a received (tolerant) struct
/// is always an `Option`, whatever the document's table says.
pub fn field_doc(field: &Field, style: StructStyle) -> TokenStream {
    let mut facts = vec![format!("Wire: {}", docs::code(&field.wire))];
    if !field.aliases.is_empty() {
        let a: Vec<String> = field.aliases.iter().map(|a| docs::code(a)).collect();
        facts.push(format!("also accepted: {}", a.join(", ")));
    }
    facts.push(ty_name(&field.ty));
    match field.encoding {
        Encoding::Plain => {}
        Encoding::JsonString => facts.push("sent as JSON text inside a string".into()),
        Encoding::CommaJoined => facts.push("sent comma-joined in one string".into()),
        Encoding::Quoted => facts.push("sent as a string".into()),
    }
    if field.in_query {
        facts.push("travels in the query string".into());
    }
    match field.sensitive {
        Some(crate::ir::Sensitivity::Secret) => facts.push("secret: never printed".into()),
        Some(crate::ir::Sensitivity::Pii) => {
            facts.push("personal data: redacted from Debug and error texts".into())
        }
        None => {}
    }
    facts.push(match (field.required, style) {
        (true, StructStyle::Request) => "required (必选)".into(),
        (true, StructStyle::Tolerant) => {
            "the document marks it required (必选); `None` when a reply omits it".into()
        }
        (false, _) => "optional".into(),
    });
    if let Some(ex) = &field.example
        && !ex.trim().is_empty()
    {
        facts.push(format!("example: {}", docs::code(ex.trim())));
    }
    if let Some(d) = &field.default {
        facts.push(format!("default: {}", docs::code(d.trim())));
    }
    docs::attrs(&[
        docs::escape(&field.doc),
        docs::escape(&field.gloss),
        facts.join(" · "),
    ])
}

fn field_attrs(field: &Field, style: StructStyle) -> TokenStream {
    let optional = is_optional(field, style);
    let mut parts: Vec<TokenStream> = Vec::new();
    if field.name != field.wire {
        let w = &field.wire;
        parts.push(quote!(rename = #w));
    }
    for a in &field.aliases {
        parts.push(quote!(alias = #a));
    }
    if field.in_query {
        parts.push(quote!(skip_serializing));
    } else if optional {
        parts.push(quote!(skip_serializing_if = "Option::is_none"));
    }
    let enc = match field.encoding {
        Encoding::Plain => None,
        Encoding::JsonString => Some("json_string"),
        Encoding::CommaJoined => Some("comma_joined"),
        Encoding::Quoted => Some("quoted"),
    };
    if let Some(m) = enc
        && !field.in_query
    {
        let path = runtime::path_str(&format!("wire::{m}::serialize"));
        parts.push(quote!(serialize_with = #path));
    }
    let de_mod = enc.unwrap_or("tolerant");
    let de_fn = if optional { "option" } else { "required" };
    let path = runtime::path_str(&format!("wire::{de_mod}::{de_fn}"));
    if optional {
        parts.push(quote!(default));
    }
    parts.push(quote!(deserialize_with = #path));
    quote!(#[serde(#(#parts),*)])
}

/// The struct definition plus its `Tolerant` impl (the runtime's default method) and, for
/// request style, `new` and setters. `noun` names what `new` makes in its docs: "request"
/// for an endpoint's request, "value" for a nested one (an order's item is not a request).
pub fn struct_def(
    s: &Struct,
    models: &TokenStream,
    extra_docs: &[String],
    noun: &str,
) -> TokenStream {
    let rt = runtime::root();
    let name = ident(&s.name);
    let mut paragraphs = vec![docs::escape(&s.doc), docs::escape(&s.gloss)];
    paragraphs.extend(extra_docs.iter().cloned());
    let doc = docs::attrs(&paragraphs);
    let fields = s.fields.iter().map(|f| {
        let fname = ident(&f.name);
        let ty = rust_ty(&f.ty, models);
        let ty = if is_optional(f, s.style) {
            quote!(Option<#ty>)
        } else {
            ty
        };
        let fdoc = field_doc(f, s.style);
        let attrs = field_attrs(f, s.style);
        quote! {
            #fdoc
            #attrs
            pub #fname: #ty,
        }
    });
    // Debug is derived only when `debug_impl` writes none.
    let debug_derive = if writes_debug(s) {
        quote!()
    } else {
        quote!(Debug,)
    };
    let (derives, extra) = match s.style {
        StructStyle::Tolerant => (
            quote!(#[derive(#debug_derive Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]),
            quote! {
                /// Keys the document does not list, kept so nothing the platform sends is lost.
                #[serde(flatten)]
                pub extra: #rt::wire::Extra,
            },
        ),
        // With nothing required, `new()` is the default (and clippy wants `Default`).
        // Requests are decoded only where they are read back (the sandbox, the write
        // journal): `Deserialize` is behind the generated crate's `decode` feature.
        StructStyle::Request if s.fields.iter().all(|f| !f.required) => (
            quote! {
                #[derive(#debug_derive Clone, Default, PartialEq, ::serde::Serialize)]
                #[cfg_attr(feature = "decode", derive(::serde::Deserialize))]
            },
            quote!(),
        ),
        StructStyle::Request => (
            quote! {
                #[derive(#debug_derive Clone, PartialEq, ::serde::Serialize)]
                #[cfg_attr(feature = "decode", derive(::serde::Deserialize))]
            },
            quote!(),
        ),
    };
    let ctor = match s.style {
        StructStyle::Request => request_ctor(s, models, noun),
        StructStyle::Tolerant => quote!(),
    };
    let debug = debug_impl(s);
    // Tolerant decoding needs `Deserialize`, which requests have only with `decode`.
    let server_only = match s.style {
        StructStyle::Request => quote!(#[cfg(feature = "decode")]),
        StructStyle::Tolerant => quote!(),
    };
    quote! {
        #doc
        #derives
        #[non_exhaustive]
        pub struct #name {
            #(#fields)*
            #extra
        }

        #debug

        #ctor

        #server_only
        impl #rt::wire::Tolerant for #name {}
    }
}

/// Whether [`debug_impl`] writes `Debug` out (otherwise it is derived): for a sensitive
/// field, and for every reply type (its `extra`).
fn writes_debug(s: &Struct) -> bool {
    s.style == StructStyle::Tolerant || s.fields.iter().any(|f| f.sensitive.is_some())
}

/// `Debug`, written out when [`writes_debug`]: each sensitive field is shown only as its
/// marker (`[REDACTED pii]`) when set, and a reply's `extra` (keys the spec does not
/// list) as its keys only, so that a logged request, reply or error never carries a
/// token or a customer's phone number, also when the platform adds a field (`mobile`,
/// `id_no`) the spec cannot mark.
fn debug_impl(s: &Struct) -> TokenStream {
    let rt = runtime::root();
    if !writes_debug(s) {
        return quote!();
    }
    let name = ident(&s.name);
    let shown = s.name.clone();
    let fields = s.fields.iter().map(|f| {
        let fname = ident(&f.name);
        let label = &f.name;
        match f.sensitive {
            None => quote!(.field(#label, &self.#fname)),
            Some(kind) => {
                let marker = kind.marker();
                let present = if is_optional(f, s.style) {
                    quote!(self.#fname.is_some())
                } else {
                    quote!(true)
                };
                quote!(.field(#label, &#rt::redact::Redacted::new(#present, #marker)))
            }
        }
    });
    let extra = match s.style {
        StructStyle::Tolerant => quote!(.field("extra", &#rt::redact::ExtraKeys(&self.extra))),
        StructStyle::Request => quote!(),
    };
    quote! {
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#shown)
                    #(#fields)*
                    #extra
                    .finish()
            }
        }
    }
}

/// `new` and one chainable setter per optional field. `new` takes no argument when
/// nothing is required, the one required value when there is one, and otherwise the
/// struct of named arguments `s.args` (`ChangePointsArgs`), written here too: a struct
/// literal names every value beside its field and rustc refuses one that lacks a
/// required field, so no two values of one type can be swapped by position.
fn request_ctor(s: &Struct, models: &TokenStream, noun: &str) -> TokenStream {
    let name = ident(&s.name);
    let required: Vec<&Field> = s.fields.iter().filter(|f| f.required).collect();
    let optional_inits = s.fields.iter().filter(|f| !f.required).map(|f| {
        let n = ident(&f.name);
        quote!(#n: None)
    });
    let required_names: Vec<Ident> = required.iter().map(|f| ident(&f.name)).collect();
    let setters = s.fields.iter().filter(|f| !f.required).map(|f| {
        let n = ident(&f.name);
        let ty = rust_ty(&f.ty, models);
        let doc = docs::attrs(&[format!(
            "Sets {} ({}).",
            docs::code(&f.wire),
            docs::escape(&f.gloss)
        )]);
        quote! {
            #doc
            #[must_use]
            pub fn #n(mut self, value: impl Into<#ty>) -> Self {
                self.#n = Some(value.into());
                self
            }
        }
    });
    let wires: Vec<String> = required.iter().map(|f| docs::code(&f.wire)).collect();
    let (args_def, ctor) = match (&s.args, required.as_slice()) {
        (None, []) => {
            let doc = docs::attrs(&[format!("A {noun} with every optional field unset.")]);
            (
                quote!(),
                quote! {
                    #doc
                    pub fn new() -> Self {
                        Self { #(#optional_inits),* }
                    }
                },
            )
        }
        (None, [f]) => {
            let n = ident(&f.name);
            let ty = rust_ty(&f.ty, models);
            let doc = docs::attrs(&[format!("A {noun} with its required fields: {}.", wires[0])]);
            (
                quote!(),
                quote! {
                    #doc
                    pub fn new(#n: impl Into<#ty>) -> Self {
                        Self { #n: #n.into(), #(#optional_inits),* }
                    }
                },
            )
        }
        (Some(args), _) => {
            let args = ident(args);
            let def = args_def(s, &args, &required, models);
            let doc = docs::attrs(&[format!(
                "A {noun} with its required fields ({}), named in [`{args}`]; the optional ones unset.",
                wires.join(", ")
            )]);
            (
                def,
                quote! {
                    #doc
                    pub fn new(args: #args) -> Self {
                        let #args { #(#required_names),* } = args;
                        Self { #(#required_names,)* #(#optional_inits),* }
                    }
                },
            )
        }
        (None, _) => unreachable!(
            "validate::name_args names the arguments of `{}`: it has {} required fields",
            s.name,
            required.len()
        ),
    };
    quote! {
        #args_def

        impl #name {
            #ctor

            #(#setters)*
        }
    }
}

/// The struct of named arguments of a constructor: the required fields, each with the
/// field's doc; no `#[non_exhaustive]` (it is built with a struct literal) and no
/// `Default` (every value must be given). `Debug` redacts what the request's does.
fn args_def(s: &Struct, args: &Ident, required: &[&Field], models: &TokenStream) -> TokenStream {
    let target = &s.name;
    let doc = docs::attrs(&[
        format!("The required fields of [`{target}`], by name: the argument of [`{target}::new`]."),
        "Built with a struct literal, so each value stands beside its field's name and \
         a missing field is a compile error; the optional fields are set on the request \
         afterwards."
            .to_string(),
    ]);
    let fields = required.iter().map(|f| {
        let n = ident(&f.name);
        let ty = rust_ty(&f.ty, models);
        let fdoc = field_doc(f, StructStyle::Request);
        quote! {
            #fdoc
            pub #n: #ty,
        }
    });
    let shadow = Struct {
        name: args.to_string(),
        doc: String::new(),
        gloss: String::new(),
        fields: required.iter().map(|f| (*f).clone()).collect(),
        style: StructStyle::Request,
        args: None,
    };
    let debug = debug_impl(&shadow);
    let debug_derive = if debug.is_empty() {
        quote!(Debug,)
    } else {
        quote!()
    };
    quote! {
        #doc
        #[derive(#debug_derive Clone, PartialEq)]
        pub struct #args {
            #(#fields)*
        }

        #debug
    }
}
