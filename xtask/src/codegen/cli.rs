//! The command line's `src/generated/mod.rs` (spec key `cli`): one descriptor per endpoint
//! (its subcommand, flags with the document's wording and the gloss, kinds, required
//! flags, enum values) and the dispatch from a subcommand to the typed request.
//!
//! The descriptors are data (`crate::schema` of the command line crate turns them into a
//! `clap` tree), and the dispatch names each request type, so the command line needs no
//! hand-written line per endpoint: a new endpoint in the spec is a new subcommand.

use heck::{ToKebabCase, ToShoutySnakeCase};
use proc_macro2::TokenStream;
use quote::quote;

use super::types::{ident, int};
use crate::ir::{Api, Encoding, Endpoint, Field, Idempotency, Ty};

/// The module, or `None` when the spec has no `cli` key.
pub fn module(api: &Api) -> Option<TokenStream> {
    let cli = api.cli.as_ref()?;
    let client_crate = ident(&client_crate(api));
    let head = format!(
        " The `{}` commands of {} {}: one subcommand per endpoint, grouped as the client is.",
        cli.binary, api.title, api.doc_version
    );
    let how = " Each descriptor carries the document's wording and the English gloss of every \
               field; `crate::schema` builds the `clap` tree from them, and [`run`] turns a \
               parsed subcommand into its typed request.";
    let endpoints: Vec<&Endpoint> = api
        .endpoints
        .iter()
        .filter(|e| {
            !api.protocol
                .tokens
                .as_ref()
                .is_some_and(|t| t.obtain == e.method || t.refresh == e.method)
        })
        .collect();
    let mut groups: Vec<(&str, Vec<&Endpoint>)> = Vec::new();
    for e in &endpoints {
        match groups.iter_mut().find(|(g, _)| *g == e.group) {
            Some((_, list)) => list.push(e),
            None => groups.push((&e.group, vec![e])),
        }
    }
    let descriptors = endpoints.iter().map(|e| descriptor(api, e));
    let group_items = groups.iter().map(|(g, list)| {
        let about = format!(
            "{g}: {}",
            list.iter()
                .map(|e| format!("{} ({} {})", e.command, e.section, e.title))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let commands = list.iter().map(|e| static_name(e));
        quote! {
            crate::schema::Group {
                name: #g,
                about: #about,
                commands: &[#(&#commands),*],
            }
        }
    });
    let arms = endpoints.iter().map(|e| {
        let group = &e.group;
        let command = &e.command;
        let request = ident(&e.request.name);
        let desc = static_name(e);
        let path = quote!(::#client_crate::endpoints::#request);
        let run = match (&e.paging, e.idempotency) {
            (Some(_), _) => quote!(ctx.paged::<#path>(&#desc, matches).await),
            (None, Idempotency::Read) => quote!(ctx.read::<#path>(&#desc, matches).await),
            (None, Idempotency::Keyed) => quote!(ctx.keyed::<#path>(&#desc, matches).await),
            (None, Idempotency::Unsafe) => quote!(ctx.write::<#path>(&#desc, matches).await),
        };
        quote! { (#group, #command) => #run, }
    });
    Some(quote! {
        #![doc = #head]
        #![doc = ""]
        #![doc = #how]

        /// The endpoint groups, in the spec's order.
        pub static GROUPS: &[crate::schema::Group] = &[#(#group_items),*];

        #(#descriptors)*

        /// Runs the endpoint command that `matches` (the whole command line's) names.
        pub async fn run(
            ctx: &crate::run::Ctx,
            matches: &::clap::ArgMatches,
        ) -> Result<crate::run::Outcome, crate::run::CliError> {
            let Some((group, group_matches)) = matches.subcommand() else {
                return Err(crate::run::CliError::unknown_command("", ""));
            };
            let Some((command, matches)) = group_matches.subcommand() else {
                return Err(crate::run::CliError::unknown_command(group, ""));
            };
            match (group, command) {
                #(#arms)*
                _ => Err(crate::run::CliError::unknown_command(group, command)),
            }
        }
    })
}

/// The Rust crate name of the client (`crates/gree-ump` → `gree_ump`).
fn client_crate(api: &Api) -> String {
    api.target
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace('-', "_")
}

fn static_name(e: &Endpoint) -> proc_macro2::Ident {
    ident(&e.name.to_shouty_snake_case())
}

fn descriptor(api: &Api, e: &Endpoint) -> TokenStream {
    let name = static_name(e);
    let doc = format!(
        " `{} {}`: {} {} (`{}`).",
        e.group, e.command, e.section, e.title, e.method
    );
    let command = &e.command;
    let section = &e.section;
    let title = &e.title;
    let gloss = &e.gloss;
    let method = &e.method;
    let idempotency = match e.idempotency {
        Idempotency::Read => "read",
        Idempotency::Keyed => "keyed",
        Idempotency::Unsafe => "unsafe",
    };
    let paged = e.paging.is_some();
    let fields = e.request.fields.iter().map(|f| field(api, f));
    quote! {
        #[doc = #doc]
        pub static #name: crate::schema::Command = crate::schema::Command {
            name: #command,
            section: #section,
            title: #title,
            gloss: #gloss,
            method: #method,
            idempotency: #idempotency,
            paged: #paged,
            fields: &[#(#fields),*],
        };
    }
}

fn field(api: &Api, f: &Field) -> TokenStream {
    let id = &f.wire;
    let flag = f.name.to_kebab_case();
    let wire = &f.wire;
    let kind = kind(f);
    let required = f.required;
    let doc = &f.doc;
    let gloss = &f.gloss;
    let ty = type_text(&f.ty, f.encoding);
    // The help's example must be a value the flag takes: the spec's usable one first.
    let example = match f.usable_example.as_ref().or(f.example.as_ref()) {
        Some(x) => quote!(Some(#x)),
        None => quote!(None),
    };
    let values: Vec<TokenStream> = match &f.ty {
        Ty::Enum(name) => api
            .enums
            .iter()
            .find(|en| en.name == *name)
            .map(|en| {
                en.values
                    .iter()
                    .map(|v| {
                        let n = int(v.value);
                        let vname = &v.name;
                        let vdoc = &v.doc;
                        quote!((#n, #vname, #vdoc))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let sensitive = f.sensitive.is_some();
    // A personal value or a secret can also come from a file or stdin: a flag's value is
    // readable by every user of the host (/proc/PID/cmdline).
    let file_flag = match f.sensitive {
        Some(_) => {
            let file = format!("{flag}-file");
            quote!(Some(#file))
        }
        None => quote!(None),
    };
    quote! {
        crate::schema::Field {
            id: #id,
            flag: #flag,
            wire: #wire,
            kind: #kind,
            ty: #ty,
            required: #required,
            sensitive: #sensitive,
            file_flag: #file_flag,
            doc: #doc,
            gloss: #gloss,
            example: #example,
            values: &[#(#values),*],
        }
    }
}

/// How a flag's text becomes the field's JSON value.
fn kind(f: &Field) -> TokenStream {
    let k = match (&f.ty, f.encoding) {
        (Ty::List(_), Encoding::CommaJoined) => quote!(Text),
        (Ty::List(_) | Ty::Json | Ty::Struct(_), _) => quote!(Json),
        (Ty::I32 | Ty::I64 | Ty::Fen | Ty::Enum(_), _) => quote!(Integer),
        (Ty::TimestampMs, _) => quote!(Millis),
        (Ty::Bool, _) => quote!(Bool),
        (Ty::Yuan, _) => quote!(Yuan),
        (Ty::Date(_), _) => quote!(Date),
        (Ty::DateTime(_), _) => quote!(DateTime),
        (Ty::String | Ty::Id, _) => quote!(Text),
    };
    quote!(crate::schema::Kind::#k)
}

/// The type as help shows it.
fn type_text(ty: &Ty, encoding: Encoding) -> String {
    let base = match ty {
        Ty::String | Ty::Id => "string".to_string(),
        Ty::Bool => "true|false".to_string(),
        Ty::I32 | Ty::I64 => "integer".to_string(),
        Ty::Yuan => "yuan, exact decimal (12.30)".to_string(),
        Ty::Fen => "fen, integer".to_string(),
        Ty::Date(_) => "date yyyy-MM-dd".to_string(),
        Ty::DateTime(_) => "datetime \"yyyy-MM-dd HH:mm:ss\"".to_string(),
        Ty::TimestampMs => "ms since 1970, or yyyy-MM-dd HH:mm:ss (Beijing)".to_string(),
        Ty::Json => "JSON".to_string(),
        Ty::List(inner) => format!("JSON list of {}", type_text(inner, Encoding::Plain)),
        Ty::Enum(name) => format!("integer ({name})"),
        Ty::Struct(name) => format!("JSON object ({name})"),
    };
    match encoding {
        Encoding::CommaJoined => "comma-separated list".to_string(),
        _ => base,
    }
}
