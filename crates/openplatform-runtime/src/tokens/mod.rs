//! Token state: the record, the store seam, the stores, and the manager that keeps one
//! valid access token for any number of concurrent callers.

mod manager;
mod memory;
mod record;
mod store;

pub use manager::{TokenGrant, TokenIssuer, TokenManager, TokenPolicy};
pub use memory::MemoryTokenStore;
pub use record::{Secret, TokenRecord};
pub use store::{BudgetKind, BudgetTake, StoreError, StoreErrorKind, StoreFuture, TokenStore};
