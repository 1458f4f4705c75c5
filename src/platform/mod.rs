//! Third-party platforms: a service provider's thousands of authorized mini programs
//! and official accounts, found by asking WeChat (`api_get_authorizer_list`) and
//! polled with the `authorizer_access_token`s the platform itself keeps in Redis.
//!
//! The exporter only reads: it never calls a token API for a platform's apps and
//! never writes to Redis, so it cannot race the platform's own refresher.

pub mod discovery;
pub mod keys;
pub mod redis;
pub mod runner;
pub mod tokens;

pub use discovery::{Authorizer, ComponentClient, Discovery, DiscoveryError};
pub use keys::{KeyKind, KeyTemplate};
pub use redis::{RedisStore, RedisTarget, StoreError};
pub use tokens::{PlatformTokens, TokenError};
pub use runner::{PlatformSettings, Runner, Snapshot};
