//! The sandbox driven over HTTP with reqwest, requests signed with the runtime's
//! `ump_md5::sign`, as any client would. One test binary (faster to build and link).

mod common;

mod auth;
mod client;
mod controls;
mod coupons;
mod extremes;
mod faults;
mod inspector;
mod members;
mod openapi;
mod orders;
mod persist;
mod points;
mod sms;
