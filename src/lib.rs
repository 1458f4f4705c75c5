//! wechat-exporter: polls WeChat's data APIs in the background and serves the
//! numbers to Prometheus.
//!
//! Data flows one way: [`config`] → [`scheduler`] → [`wechat`] (tokens, errors)
//! → [`collectors`] → [`store`] → [`web`].

pub mod args;
pub mod backfill;
pub mod collectors;
pub mod config;
pub mod cst;
pub mod exposition;
pub mod fnv;
pub mod landing;
pub mod malloc;
pub mod platform;
pub mod scheduler;
pub mod secret;
pub mod simulator;
#[cfg(target_os = "linux")]
pub mod process;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod web_config;
pub mod wechat;
