//! What must not compile. A request with two or more required fields takes them as a
//! struct of named arguments (`ChangePointsArgs`), so the positional call in which two
//! strings could trade places silently is gone, and a forgotten field is a compile
//! error. Each case is a file of `tests/compile_fail/` with the compiler's answer
//! beside it (`.stderr`); run with `cargo test -p gree-ump --test compile_fail --
//! --ignored`, refresh with `TRYBUILD=overwrite` before it, and review the diff.

/// Opt-in (`-- --ignored`; CI runs it): it builds each case with cargo, which takes a
/// minute on a cold machine and prints cargo's progress in the middle of the test
/// output, where a newcomer's `cargo test -p gree-ump` looked hung.
#[test]
#[ignore = "compiles each case with cargo (a minute cold); CI runs it: cargo test -p gree-ump --test compile_fail -- --ignored"]
fn required_fields_cannot_be_swapped_or_left_out() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
