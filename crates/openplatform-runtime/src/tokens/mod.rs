//! Token state: the record, the store seam, the stores, and the manager that keeps one
//! valid access token for any number of concurrent callers.

mod instance;
mod manager;
mod memory;
mod record;
mod status;
mod store;

// Token stores beyond memory, and (feature `test-util`) the suite every store must pass
// and a store wrapper with switchable faults: test code, kept out of users' builds.
#[cfg(feature = "test-util")]
pub mod conformance;
#[cfg(feature = "test-util")]
pub mod faulty;
mod file;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisTokenStore;
pub use file::{FileTokenStore, FileTokenStoreBuilder};

pub use manager::{TokenGrant, TokenIssuer, TokenManager, TokenPolicy};
pub use memory::MemoryTokenStore;
pub use record::{Secret, TokenRecord};
pub use status::{
    BudgetStatus, ClearOutcome, LAST_FAILURE_MAX_MESSAGE, LastFailure, PendingObtain, RecordStatus,
    RefreshOutcome, TokenStatus,
};
pub use store::{BudgetKind, BudgetTake, StoreError, StoreErrorKind, StoreFuture, TokenStore};
