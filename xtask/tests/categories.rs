//! The generator's list of error categories is the runtime's: a spec may name exactly
//! the categories generated code can map to `ErrorCategory`.

use openplatform_runtime::ErrorCategory;

#[test]
fn generator_categories_equal_the_runtime_categories() {
    let runtime: Vec<&str> = ErrorCategory::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(xtask::validate::CATEGORIES, runtime.as_slice());
}
