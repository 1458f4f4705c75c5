//! Talking to WeChat: the transport (one HTTP pool, limits, decoding), tokens on
//! top of it, each app's client on top of both, typed errors, and readers for
//! WeChat's loosely typed JSON.

pub mod client;
pub mod error;
pub mod json;
pub mod refresh_budget;
pub mod token;
pub mod transport;

pub use client::AppClient;
pub use error::WechatError;
pub use token::{Credential, TokenMode};
pub use transport::{Api, ClientSettings, WechatClient};
