//! Compile-fail tests of `#[derive(Keyed)]`: each `ui/*.rs` must fail to compile
//! with exactly the errors in its `.stderr` (regenerate with `TRYBUILD=overwrite`,
//! then read every error: it must point at the offending tokens).

#[test]
fn derive_errors_are_spanned_and_reported_together() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
