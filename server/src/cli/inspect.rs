//! `cipherdrop inspect`: a file's header, without any key.

use std::path::PathBuf;

use anyhow::Context;
use cipherdrop_core::Header;
use cipherdrop_core::io::read_header;
use serde_json::json;

use super::files::open_input;

/// Arguments of `cipherdrop inspect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Nothing is verified: the header is authenticated only when the file is \
decrypted with its key."
)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Encrypted file, or - for standard input.
    pub file: PathBuf,
}

/// Runs `cipherdrop inspect`.
///
/// # Errors
/// When the file cannot be read or its header is not valid.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut input = open_input(&args.file)?;
    let header = read_header(&mut input.reader)
        .map_err(|e| match cipherdrop_core::io::format_error(&e) {
            Some(f) => anyhow::Error::from(f.clone()),
            None => e.into(),
        })
        .with_context(|| format!("cannot inspect {}", input.name))?;
    let report = describe(&header, input.len);
    if args.json {
        // serde_json escapes C0 controls; DEL, C1 controls and bidi overrides too.
        println!(
            "{}",
            escape_for_terminal(&serde_json::to_string_pretty(&report)?, true)
        );
    } else {
        print_text(&report);
    }
    Ok(())
}

/// Whether `c` would act on a terminal or reorder text instead of showing up:
/// control characters (C0, DEL, C1: escape sequences start with ESC or CSI) and
/// invisible bidirectional formatting.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character that could act on a terminal written as an escape: a
/// header's strings come from the file, and a file must not be able to move the
/// cursor, retitle the window or hide text. Text gets `\u{1b}` (and `\\` for a
/// backslash, so the escapes are unambiguous); JSON gets `\u001b`, which decodes
/// to the same string.
fn escape_for_terminal(s: &str, json: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // In JSON, serde_json already escaped C0 controls inside strings; outside
        // them a newline is layout.
        if acts_on_terminal(c) && !(json && c < ' ') {
            if json {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            } else {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        } else if c == '\\' && !json {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// The header as JSON (the `--json` output).
#[must_use]
pub fn describe(header: &Header, file_len: Option<u64>) -> serde_json::Value {
    let from_len = file_len.and_then(|n| header.layout_for_ciphertext_len(n).ok());
    let layout = header.layout().or(from_len);
    let keys: Vec<_> = header
        .wrapped_keys()
        .iter()
        .map(|w| {
            json!({
                "provider_id": w.provider_id,
                "provider_info": provider_info_text(w),
                "blob_len": w.blob.len(),
            })
        })
        .collect();
    let context: serde_json::Map<String, serde_json::Value> = header
        .context()
        .iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    json!({
        "version": header.version(),
        "suite": format!("0x{:04x}", header.suite()),
        "suite_name": "AES-256-GCM STREAM, HKDF-SHA-512, key commitment",
        "header_len": header.len(),
        "chunk_size": header.chunk_size().get(),
        "plaintext_len": layout.map(|l| l.plaintext_len()),
        "plaintext_len_recorded": header.plaintext_len().is_some(),
        "chunks": layout.map(|l| l.chunk_count()),
        "ciphertext_len": file_len,
        "message_id": hex::encode(header.message_id()),
        "context": context,
        "wrapped_keys": keys,
    })
}

fn print_text(r: &serde_json::Value) {
    let s = |k: &str| match &r[k] {
        serde_json::Value::Null => "unknown".to_owned(),
        serde_json::Value::String(s) => escape_for_terminal(s, false),
        v => v.to_string(),
    };
    let e = |v: &serde_json::Value| escape_for_terminal(v.as_str().unwrap_or_default(), false);
    println!(
        "format:        CipherDrop version {} suite {} ({})",
        s("version"),
        s("suite"),
        s("suite_name")
    );
    println!("header:        {} bytes", s("header_len"));
    // A chunk size is a power of two, given as `--chunk-size 256K`: binary units.
    let chunk = r["chunk_size"]
        .as_u64()
        .map_or(String::new(), |n| format!(" ({})", binary_size(n)));
    println!("chunk size:    {} bytes{chunk}", s("chunk_size"));
    let recorded = if r["plaintext_len_recorded"] == json!(true) {
        ""
    } else {
        " (not recorded; from the file size)"
    };
    // A file's size in decimal units, as the page and file managers show it.
    let human = r["plaintext_len"]
        .as_u64()
        .filter(|&n| n >= 1000)
        .map_or(String::new(), |n| format!(" ({})", decimal_size(n)));
    println!(
        "plaintext:     {} bytes{human}{recorded}",
        s("plaintext_len")
    );
    println!("chunks:        {}", s("chunks"));
    println!("message id:    {}", s("message_id"));
    match r["context"].as_object() {
        Some(m) if !m.is_empty() => {
            for (i, (k, v)) in m.iter().enumerate() {
                let label = if i == 0 { "context:" } else { "" };
                println!("{label:<15}{}={}", escape_for_terminal(k, false), e(v));
            }
        }
        _ => println!("context:       (empty)"),
    }
    for (i, w) in r["wrapped_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = if i == 0 { "wrapped keys:" } else { "" };
        println!(
            "{label:<15}{} {} ({} bytes)",
            e(&w["provider_id"]),
            e(&w["provider_info"]),
            w["blob_len"]
        );
    }
}

/// A byte count in decimal units (1 kB = 1000 bytes), as the page shows sizes:
/// 300,000,000 bytes is "300 MB".
#[allow(clippy::cast_precision_loss)] // a size shown to 2-3 significant digits
fn decimal_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 999.5 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if v < 9.95 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// A power-of-two size in binary units: 262144 is "256 KiB".
fn binary_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

/// Provider info as text: an `x25519-hpke` recipient in its `cdpub1...` form (what
/// `keygen --x25519` printed), UTF-8 as it is, anything else as `hex:...`.
pub(crate) fn provider_info_text(w: &cipherdrop_core::WrappedKey) -> String {
    if w.provider_id == cipherdrop_core::x25519::X25519_HPKE
        && let Ok(public) = <[u8; 32]>::try_from(w.provider_info.as_slice())
    {
        return cipherdrop_core::X25519Recipient::from_bytes(public).to_string();
    }
    String::from_utf8(w.provider_info.clone())
        .unwrap_or_else(|_| format!("hex:{}", hex::encode(&w.provider_info)))
}

#[cfg(test)]
mod tests {
    use super::{binary_size, decimal_size, escape_for_terminal};

    #[test]
    fn terminal_controls_are_escaped() {
        let hostile = "a\u{1b}]0;title\u{7}b\u{9b}2Jc\u{7f}\u{202e}d\\e";
        assert_eq!(
            escape_for_terminal(hostile, false),
            "a\\u{1b}]0;title\\u{7}b\\u{9b}2Jc\\u{7f}\\u{202e}d\\\\e"
        );
        let json = serde_json::to_string(&serde_json::json!(hostile)).expect("a string serializes");
        let escaped = escape_for_terminal(&json, true);
        assert!(
            escaped.chars().all(|c| !c.is_control() && c != '\u{202e}'),
            "{escaped}"
        );
        let back: String = serde_json::from_str(&escaped).expect("still JSON");
        assert_eq!(
            back, hostile,
            "the JSON still decodes to the header's string"
        );
        assert_eq!(escape_for_terminal("owner=ann ä", false), "owner=ann ä");
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(decimal_size(999), "999 B");
        assert_eq!(decimal_size(1000), "1.0 kB");
        assert_eq!(decimal_size(1500), "1.5 kB");
        assert_eq!(decimal_size(999_499), "999 kB");
        assert_eq!(decimal_size(999_500), "1.0 MB");
        assert_eq!(decimal_size(300_000_000), "300 MB");
        assert_eq!(decimal_size(12 << 20), "13 MB");
        assert_eq!(decimal_size(5_000_000_000), "5.0 GB");
    }

    #[test]
    fn chunk_sizes_read_in_binary_units() {
        assert_eq!(binary_size(262_144), "256 KiB");
        assert_eq!(binary_size(16 << 20), "16 MiB");
        assert_eq!(binary_size(4096), "4 KiB");
        assert_eq!(binary_size(1000), "1000 B");
    }
}
