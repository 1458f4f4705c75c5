//! Talking to WeChat: tokens, the shared HTTP client, typed errors, and readers
//! for WeChat's loosely typed JSON.

pub mod client;
pub mod error;
pub mod json;
pub mod token;

pub use client::{Api, AppClient, ClientSettings, WechatClient};
pub use error::WechatError;
pub use token::{Credential, TokenMode};
