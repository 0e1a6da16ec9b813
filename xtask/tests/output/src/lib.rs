//! What the generator writes for the fixture specs, checked in and compiled (as
//! progenitor compiles its outputs): `xtask/tests/generate_fixture.rs` fails when these
//! files differ from what the fixtures generate now, and rewrites them when run with
//! `UPDATE_FIXTURE_OUTPUT=1`. Being a workspace member, the crate is built (and
//! linted) by every `cargo build/test/clippy --workspace`.

/// `xtask/tests/fixtures/mini.yaml`: the gateway style with tokens.
#[rustfmt::skip]
pub mod mini;

/// `xtask/tests/fixtures/action.yaml`: the method in the envelope, a pluggable signer.
#[rustfmt::skip]
pub mod action;

#[cfg(test)]
mod tests {
    use openplatform_runtime::{Endpoint, RequestError};

    use super::mini::endpoints::{AddThingArgs, AddThingRequest};
    use super::mini::models::Kind;

    /// The generated types are usable: a request validates through the runtime's
    /// helper, the route table knows it, the client returns the concrete type.
    #[test]
    fn generated_types_are_usable() {
        let kind = Kind::KNOWN[0];
        let empty = AddThingRequest::new(AddThingArgs {
            change_id: " ".into(),
            amount: "1.50".parse::<openplatform_runtime::wire::Yuan>().unwrap(),
            kind,
        });
        assert_eq!(
            empty.validate(),
            Err(RequestError::EmptyField {
                method: "mini.thing.add",
                field: "change_id",
            })
        );
        let info = <AddThingRequest as Endpoint>::INFO;
        assert!(
            super::mini::routes::AnyRequest::ENDPOINTS
                .iter()
                .any(|e| e.method == info.method)
        );
        assert!(super::action::routes::AnyRequest::ENDPOINTS.len() == 1);
    }
}
