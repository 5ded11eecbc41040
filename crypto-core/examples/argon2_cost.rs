//! How long one Argon2id run takes at given costs, through the crate's own
//! passphrase keyring (the figure behind the reader's caps in FORMAT.md 2.4).
//!
//! `cargo run --release -p cipherdrop-core --example argon2_cost -- [KIB PASSES LANES]`
//! (default: the reader's caps).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use cipherdrop_core::passphrase::{MAX_LANES, MAX_MEMORY_KIB, MAX_PASSES};
use cipherdrop_core::{Argon2idParams, DataKey, EncryptionContext, PassphraseKeyring};

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let (m, t, p) = match args[..] {
        [m, t, p] => (m, t, p),
        _ => (MAX_MEMORY_KIB, MAX_PASSES, MAX_LANES),
    };
    let params = Argon2idParams::new(m, t, p).expect("costs within the caps");
    let keyring = PassphraseKeyring::new(b"correct horse", params);
    let (dk, ctx) = (DataKey::from_bytes([1; 32]), EncryptionContext::new());
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        keyring.wrap_with(&dk, &ctx, [7; 16], [1; 12]).unwrap();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "Argon2id m={m} KiB t={t} p={p}: median {:.0} ms (min {:.0}, max {:.0}) of 5 runs",
        times[2] * 1e3,
        times[0] * 1e3,
        times[4] * 1e3
    );
}
