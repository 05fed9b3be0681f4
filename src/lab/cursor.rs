//! Opaque, signed pagination cursors.
//!
//! A cursor remembers the last row of a page — its `(created_at, id)` — and the filter the
//! page was fetched with. It is base64url JSON plus an HMAC-SHA256 tag keyed by a per-database
//! secret, so a client can neither forge a position nor reuse a cursor with another filter:
//! anything altered is refused with 400 instead of returning a wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Bytes of the HMAC tag kept in a cursor (128 bits).
const TAG_LEN: usize = 16;

/// Where the next page starts, and under which filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Format version of the cursor payload.
    pub v: u8,
    /// `created_at` of the last row already seen.
    pub c: String,
    /// `id` of the last row already seen.
    pub i: i64,
    /// The `done` filter the cursor was issued for.
    pub d: Option<bool>,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this server produced (garbage, truncated, edited).
    #[error("the cursor is not one this server issued (it was altered, cut short or made up)")]
    Invalid,
    /// A real cursor used with a different filter.
    #[error("the cursor was issued for done={issued}, but this request asks for done={asked}")]
    FilterMismatch {
        /// Filter recorded in the cursor.
        issued: String,
        /// Filter in this request.
        asked: String,
    },
}

/// Signs and checks cursors with one key.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec { key: <redacted> }")
    }
}

impl CursorCodec {
    /// A codec with a secret key (per database, so cursors survive lab restarts).
    pub fn new(key: Vec<u8>) -> CursorCodec {
        CursorCodec { key }
    }

    fn tag(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(payload);
        mac
    }

    /// The cursor for the page after the row `(created_at, id)`.
    pub fn encode(&self, created_at: &str, id: i64, done: Option<bool>) -> String {
        let position = Position {
            v: 1,
            c: created_at.to_string(),
            i: id,
            d: done,
        };
        let payload = serde_json::to_vec(&position).expect("a position always serializes");
        let tag = self.tag(&payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// Checks a cursor's signature, shape and filter.
    pub fn decode(&self, cursor: &str, done: Option<bool>) -> Result<Position, CursorError> {
        let (payload_b64, tag_b64) = cursor.split_once('.').ok_or(CursorError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| CursorError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| CursorError::Invalid)?;
        self.tag(&payload)
            .verify_truncated_left(&tag)
            .map_err(|_| CursorError::Invalid)?;
        if tag.len() != TAG_LEN {
            return Err(CursorError::Invalid);
        }
        let position: Position =
            serde_json::from_slice(&payload).map_err(|_| CursorError::Invalid)?;
        if position.v != 1 || !super::clock::is_stored_timestamp(&position.c) {
            return Err(CursorError::Invalid);
        }
        if position.d != done {
            let show = |d: Option<bool>| d.map_or("(any)".to_string(), |b| b.to_string());
            return Err(CursorError::FilterMismatch {
                issued: show(position.d),
                asked: show(done),
            });
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2026-11-25T09:30:00.123456Z";

    #[test]
    fn a_cursor_round_trips() {
        let codec = CursorCodec::new(b"k".to_vec());
        let c = codec.encode(TS, 7, Some(false));
        let p = codec.decode(&c, Some(false)).unwrap();
        assert_eq!((p.c.as_str(), p.i, p.d), (TS, 7, Some(false)));
    }

    #[test]
    fn edits_garbage_and_other_keys_are_refused() {
        let codec = CursorCodec::new(b"k".to_vec());
        let c = codec.encode(TS, 7, None);
        let (payload, tag) = c.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Position {
                v: 1,
                c: TS.into(),
                i: 8,
                d: None,
            })
            .unwrap(),
        );
        for bad in [
            "garbage".to_string(),
            String::new(),
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[..tag.len() - 2]),
            format!("{payload}x.{tag}"),
        ] {
            assert_eq!(codec.decode(&bad, None), Err(CursorError::Invalid), "{bad}");
        }
        let other = CursorCodec::new(b"other".to_vec());
        assert_eq!(other.decode(&c, None), Err(CursorError::Invalid));
    }

    #[test]
    fn a_cursor_is_tied_to_its_filter() {
        let codec = CursorCodec::new(b"k".to_vec());
        let c = codec.encode(TS, 7, Some(true));
        assert!(matches!(
            codec.decode(&c, None),
            Err(CursorError::FilterMismatch { .. })
        ));
    }
}
