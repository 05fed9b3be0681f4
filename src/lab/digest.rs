//! SHA-256 as lowercase hex: entity tags, upload checksums, and the hashes the lab keeps in
//! place of session ids and API keys.

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
