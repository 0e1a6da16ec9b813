//! `errors.rs`: the error-code enum, with the document's messages, categories and
//! retryability.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::runtime;
use super::types::{ident, int};
use crate::ir::Api;

pub fn module(api: &Api) -> TokenStream {
    let rt = runtime::root();
    let variants = api.errors.iter().map(|e| {
        let n = ident(&e.name);
        let mut paras = vec![
            format!(
                "`{}` {} — {}",
                e.code,
                docs::escape(&e.message),
                docs::escape(&e.gloss)
            ),
            format!(
                "Group: {} · category: {} · retryable: {}",
                e.group,
                e.category,
                if e.retryable { "yes" } else { "no" }
            ),
        ];
        if !e.sections.is_empty() {
            paras.push(format!("Listed in section(s) {}.", e.sections.join(", ")));
        }
        let d = docs::attrs(&paras);
        quote!(#d #n,)
    });
    let arms = |f: &dyn Fn(&crate::ir::ErrorCode) -> TokenStream| -> Vec<TokenStream> {
        api.errors
            .iter()
            .map(|e| {
                let n = ident(&e.name);
                let v = f(e);
                quote!(Self::#n => #v,)
            })
            .collect()
    };
    let to_code = arms(&|e| {
        let c = int(e.code);
        quote!(#c)
    });
    let message = arms(&|e| {
        let m = &e.message;
        quote!(Some(#m))
    });
    let gloss = arms(&|e| {
        let m = &e.gloss;
        quote!(Some(#m))
    });
    let category = arms(&|e| {
        let c = ident(&e.category.to_upper_camel_case());
        quote!(#rt::ErrorCategory::#c)
    });
    let retryable = arms(&|e| {
        let r = e.retryable;
        quote!(#r)
    });
    let from_code = api.errors.iter().map(|e| {
        let n = ident(&e.name);
        let c = int(e.code);
        quote!(#c => Self::#n,)
    });
    // A document that lists no code: every code is `Unknown` (no one-armed match).
    let from_code_body = if api.errors.is_empty() {
        quote!(Self::Unknown(code))
    } else {
        quote! {
            match code {
                #(#from_code)*
                other => Self::Unknown(other),
            }
        }
    };
    let known = api.errors.iter().map(|e| {
        let n = ident(&e.name);
        quote!(Self::#n)
    });
    let head = if api.errors.is_empty() {
        format!(
            " Error codes of {} {}: the document lists none, so every code is `Unknown`.",
            api.title, api.doc_version
        )
    } else {
        let summary = match &api.errors_heading {
            Some(heading) => format!("every code of {heading} and of the sections"),
            None => "every code the document lists".to_owned(),
        };
        format!(
            " Error codes of {} {}: {summary}.",
            api.title, api.doc_version
        )
    };
    quote! {
        #![doc = #head]

        /// An `error_code` of the platform.
        ///
        /// `#[non_exhaustive]`: codes the document does not list decode as `Unknown`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            #(#variants)*
            /// A code the document does not list.
            Unknown(i64),
        }

        impl ErrorCode {
            /// Every code the document lists, ascending.
            pub const KNOWN: &'static [Self] = &[#(#known),*];

            /// The code as the platform sends it.
            pub const fn code(self) -> i64 {
                match self {
                    #(#to_code)*
                    Self::Unknown(code) => code,
                }
            }

            /// The variant of a code; a code the document does not list is kept as `Unknown`.
            pub const fn from_code(code: i64) -> Self {
                #from_code_body
            }

            /// The document's `error_message` for this code.
            pub const fn message(self) -> Option<&'static str> {
                match self {
                    #(#message)*
                    Self::Unknown(_) => None,
                }
            }

            /// An English gloss of the message.
            pub const fn gloss(self) -> Option<&'static str> {
                match self {
                    #(#gloss)*
                    Self::Unknown(_) => None,
                }
            }

            /// What kind of failure the code reports (the spec's `category`), for deciding
            /// what to do about it.
            pub const fn category(self) -> #rt::ErrorCategory {
                match self {
                    #(#category)*
                    Self::Unknown(_) => #rt::ErrorCategory::Unknown,
                }
            }

            /// Whether repeating the identical call can succeed.
            pub const fn is_retryable(self) -> bool {
                match self {
                    #(#retryable)*
                    Self::Unknown(_) => false,
                }
            }
        }

        impl ::std::fmt::Display for ErrorCode {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match (self.message(), self.gloss()) {
                    (Some(message), Some(gloss)) => write!(f, "{} {} ({})", self.code(), message, gloss),
                    _ => write!(f, "{} (a code the document does not list)", self.code()),
                }
            }
        }

        impl #rt::ApiErrorCode for ErrorCode {
            fn from_code(code: i64) -> Self {
                Self::from_code(code)
            }
            fn code(&self) -> i64 {
                ErrorCode::code(*self)
            }
            fn message(&self) -> Option<&'static str> {
                ErrorCode::message(*self)
            }
            fn category(&self) -> #rt::ErrorCategory {
                ErrorCode::category(*self)
            }
            fn is_retryable(&self) -> bool {
                ErrorCode::is_retryable(*self)
            }
        }
    }
}
