//! `models.rs`: the spec's enums and shared types (plus inline response objects).

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::runtime;
use super::types::{ident, int, struct_def};
use crate::ir::{Api, Enum};

pub fn module(api: &Api) -> TokenStream {
    let head = format!(
        " Enumerations and shared types of {} {}.",
        api.title, api.doc_version
    );
    let enums = api.enums.iter().map(enum_def);
    let structs = api
        .structs
        .iter()
        .map(|s| struct_def(s, &quote!(), &[], "value"));
    quote! {
        #![doc = #head]
        #(#enums)*
        #(#structs)*
    }
}

fn enum_def(e: &Enum) -> TokenStream {
    let rt = runtime::root();
    let name = ident(&e.name);
    let doc = docs::attrs(&[
        docs::escape(&e.doc),
        docs::escape(&e.gloss),
        "Travels as an integer; values the document does not list decode as `Unknown`.".into(),
    ]);
    let variants = e.values.iter().map(|v| {
        let n = ident(&v.name);
        let d = docs::attrs(&[format!(
            "`{}`: {} — {}",
            v.value,
            docs::escape(&v.doc),
            docs::escape(&v.gloss)
        )]);
        quote!(#d #n,)
    });
    let to_code = e.values.iter().map(|v| {
        let n = ident(&v.name);
        let c = int(v.value);
        quote!(Self::#n => #c,)
    });
    let from_code = e.values.iter().map(|v| {
        let n = ident(&v.name);
        let c = int(v.value);
        quote!(#c => Self::#n,)
    });
    let doc_of = e.values.iter().map(|v| {
        let n = ident(&v.name);
        let d = &v.doc;
        quote!(Self::#n => Some(#d),)
    });
    let known = e.values.iter().map(|v| {
        let n = ident(&v.name);
        quote!(Self::#n)
    });
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            /// A value the document does not list.
            Unknown(i64),
        }

        impl #name {
            /// Every value the document lists, in its order.
            pub const KNOWN: &'static [Self] = &[#(#known),*];

            /// The wire value.
            pub const fn code(self) -> i64 {
                match self {
                    #(#to_code)*
                    Self::Unknown(code) => code,
                }
            }

            /// The variant for a wire value.
            pub const fn from_code(code: i64) -> Self {
                match code {
                    #(#from_code)*
                    other => Self::Unknown(other),
                }
            }

            /// The document's wording for this value.
            pub const fn doc(self) -> Option<&'static str> {
                match self {
                    #(#doc_of)*
                    Self::Unknown(_) => None,
                }
            }
        }

        #rt::int_enum_wire!(#name);
    }
}
