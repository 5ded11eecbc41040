//! End-to-end tests of `cipherdrop serve`: the real server on port 0, talked to
//! over HTTP, in the local mode (embedded s3s-fs + local keyring) and against moto
//! (S3 + KMS). moto tests skip outside CI when `moto_server` is not installed.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "api/authz.rs"]
mod authz;
#[path = "api/bad_input.rs"]
mod bad_input;
#[path = "api/flow.rs"]
mod flow;
#[path = "api/grants.rs"]
mod grants;
#[path = "api/keys.rs"]
mod keys;
#[path = "api/logs.rs"]
mod logs;
#[path = "api/no_data_key.rs"]
mod no_data_key;
#[path = "api/presigned.rs"]
mod presigned;
#[path = "api/recovery.rs"]
mod recovery;
#[path = "api/shares.rs"]
mod shares;
#[path = "api/support.rs"]
mod support;
#[path = "api/uploads.rs"]
mod uploads;
