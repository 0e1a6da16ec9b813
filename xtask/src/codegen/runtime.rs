//! Where the runtime crate lives, in one place (smithy-rs' `RuntimeType`, reduced to
//! what this generator needs). Generated code reaches the runtime only through these
//! helpers: [`root`] in `quote!` (`quote!(#rt::wire::Yuan)`), [`path_str`] in attribute
//! strings (`deserialize_with = "…"`), [`doc_path`] in intra-doc links. Renaming or
//! re-exporting the runtime is a change of [`CRATE`] alone.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// The runtime crate's name as generated code spells it.
pub const CRATE: &str = "openplatform_runtime";

/// `::openplatform_runtime`, the absolute path of the runtime crate, to prefix a path
/// in `quote!`.
pub fn root() -> TokenStream {
    let krate = Ident::new(CRATE, Span::call_site());
    quote!(::#krate)
}

/// `::openplatform_runtime::<path>` as text, for serde's `with`-style attributes.
pub fn path_str(path: &str) -> String {
    format!("::{CRATE}::{path}")
}

/// `openplatform_runtime::<path>` as text, for an intra-doc link.
pub fn doc_path(path: &str) -> String {
    format!("{CRATE}::{path}")
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    /// No other generator module spells the runtime's name: every path goes through
    /// this module.
    #[test]
    fn only_this_module_names_the_runtime() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/codegen");
        let mut offenders = Vec::new();
        for entry in fs::read_dir(&dir).expect("codegen dir") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "runtime.rs") {
                continue;
            }
            let text = fs::read_to_string(&path).expect("source");
            for (i, line) in text.lines().enumerate() {
                if line.contains(super::CRATE) {
                    offenders.push(format!("{}:{}: {line}", path.display(), i + 1));
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }

    #[test]
    fn paths() {
        assert_eq!(super::root().to_string(), ":: openplatform_runtime");
        assert_eq!(
            super::path_str("wire::tolerant::option"),
            "::openplatform_runtime::wire::tolerant::option"
        );
    }
}
