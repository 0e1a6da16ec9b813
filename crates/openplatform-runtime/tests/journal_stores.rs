//! The journal stores against the conformance suite.

use std::sync::Arc;

use openplatform_runtime::journal::{MemoryJournal, conformance};

#[tokio::test]
async fn the_memory_journal_conforms() {
    conformance::check_journal(&MemoryJournal::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_journal_conforms_under_concurrent_claims() {
    conformance::check_journal_shared(Arc::new(MemoryJournal::new())).await;
}
