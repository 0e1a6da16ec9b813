//! Token state: the record, the store seam, the stores, and the manager that keeps one
//! valid access token for any number of concurrent callers.

mod instance;
mod manager;
mod memory;
mod record;
mod store;

// Token stores beyond memory, and the suite every store must pass.
#[doc(hidden)]
pub mod conformance;
/// A store wrapper with switchable faults, for tests.
#[doc(hidden)]
pub mod faulty;
mod file;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisTokenStore;
pub use file::FileTokenStore;

pub use manager::{TokenGrant, TokenIssuer, TokenManager, TokenPolicy};
pub use memory::MemoryTokenStore;
pub use record::{Secret, TokenRecord};
pub use store::{BudgetKind, BudgetTake, StoreError, StoreErrorKind, StoreFuture, TokenStore};
