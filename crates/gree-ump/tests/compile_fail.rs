//! What must not compile. A request with two or more required fields takes them as a
//! struct of named arguments (`ChangePointsArgs`), so the positional call in which two
//! strings could trade places silently is gone, and a forgotten field is a compile
//! error. Each case is a file of `tests/compile_fail/` with the compiler's answer
//! beside it (`.stderr`); refresh with `TRYBUILD=overwrite cargo test -p gree-ump
//! --test compile_fail` and review the diff.

#[test]
fn required_fields_cannot_be_swapped_or_left_out() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
