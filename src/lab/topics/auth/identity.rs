//! Who is calling: a bearer token, a session cookie or an API key, checked in that order of
//! appearance, each with a sentence in the trace saying who the caller is and why they were
//! let in or not.

use super::{Auth, UNAUTHENTICATED};
use crate::lab::db::Sql;
use crate::lab::error::Problem;
use crate::lab::step::{Carries, Gate};
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// A caller the lab recognised.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account's row id.
    pub account: i64,
    /// Its username.
    pub username: String,
    /// `user` or `admin`.
    pub role: String,
    /// How it proved who it is.
    pub via: Via,
}

/// How a caller proved who it is.
#[derive(Debug, Clone)]
pub enum Via {
    /// A JWT in `Authorization: Bearer`.
    Token,
    /// A session cookie (its hash is the session's key).
    Session {
        /// SHA-256 of the cookie's value.
        token_hash: String,
    },
    /// An API key in `X-API-Key`.
    ApiKey,
}

impl Via {
    /// As `/me` says it.
    pub fn name(&self) -> &'static str {
        match self {
            Via::Token => "bearer token",
            Via::Session { .. } => "session cookie",
            Via::ApiKey => "api key",
        }
    }
}

/// A JWT's claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// 32 random bytes as URL-safe base64: a session id, a CSRF token, an API key's secret.
pub fn random_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = std::array::from_fn(|_| fastrand_secure_byte());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One byte from the operating system's generator (a credential must not be guessable).
fn fastrand_secure_byte() -> u8 {
    let mut b = [0u8; 1];
    getrandom::fill(&mut b).expect("the operating system's random generator works");
    b[0]
}

/// SHA-256 of `text`, in hex.
pub fn sha256_hex(text: &str) -> String {
    crate::lab::digest::sha256_hex(text.as_bytes())
}

/// A signed token for `username` with `role`, valid `lifetime` seconds.
pub fn issue_token(key: &[u8], username: &str, role: &str, lifetime: u64) -> String {
    let iat = unix_now().max(0) as u64;
    let claims = Claims {
        sub: username.to_string(),
        role: role.to_string(),
        iat,
        exp: iat + lifetime,
    };
    let key = EncodingKey::from_secret(key).expect("an HMAC key of any length");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 signs any claims")
}

/// The 401 with `WWW-Authenticate` saying how to authenticate (and, for a bad token, why).
pub fn challenge(detail: &str, error: Option<&'static str>) -> Problem {
    let value = match error {
        Some("invalid_token") => "Bearer realm=\"reqlab lab\", error=\"invalid_token\"",
        _ => "Bearer realm=\"reqlab lab\"",
    };
    Problem::new(&UNAUTHENTICATED, detail).with_header(header::WWW_AUTHENTICATE, value)
}

const SELECT_BY_NAME: &str = "SELECT id, role FROM accounts WHERE username = ?1";
const SELECT_BY_SESSION: &str = "SELECT a.id, a.username, a.role, s.csrf_hash FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?1 AND s.expires_at >= ?2";
const SELECT_BY_API_KEY: &str = "SELECT a.id, a.username, a.role FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?1";

/// Who is calling, or the 401 (403 for a cookie-authenticated change without its CSRF
/// token). `changes` says whether the request changes data (a cookie then needs the token).
pub async fn identify(
    state: &Auth,
    tracer: &Tracer,
    gate: &Gate,
    headers: &HeaderMap,
    changes: bool,
) -> Result<Caller, Problem> {
    let outcome = resolve(state, tracer, headers, changes);
    gate.hold(Stage::Auth, || match &outcome {
        Ok(caller) => Carries::new(format_args!(
            "{} (role {}) by {}",
            caller.username,
            caller.role,
            caller.via.name()
        ))
        .with_field("identity", &caller.username)
        .with_field("role", &caller.role)
        .with_field("via", caller.via.name())
        .with_field("decision", "authenticated"),
        Err(problem) => Carries::new(format_args!("refused: {}", problem.detail))
            .with_field("identity", "unknown")
            .with_field(
                "decision",
                format_args!("{} {}", problem.status.as_u16(), problem.kind.title),
            ),
    })
    .await;
    outcome
}

fn resolve(
    state: &Auth,
    tracer: &Tracer,
    headers: &HeaderMap,
    changes: bool,
) -> Result<Caller, Problem> {
    let db = &state.lab.db;
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        else {
            let scheme = auth.split_whitespace().next().unwrap_or("");
            tracer.note(
                Stage::Auth,
                Outcome::Fail,
                format_args!(
                    "Authorization uses the {scheme} scheme; this lab reads only Bearer → 401 naming Bearer"
                ),
            );
            // An unsupported scheme gets the challenge without an error code (RFC 6750 §3.1).
            return Err(challenge(
                "Send Authorization: Bearer <token>, with a token from POST /login.",
                None,
            ));
        };
        // The algorithm is pinned: a token claiming "none" or another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        let key = DecodingKey::from_secret(&state.key).expect("an HMAC key of any length");
        let claims = match jsonwebtoken::decode::<Claims>(token.trim(), &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind;
                let why = match e.kind() {
                    _ if says_alg_none(token) => {
                        "the token says alg none: it carries no signature at all, and only HS256 is accepted"
                    }
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => {
                        "the token's signature does not verify with this lab's key (forged or altered)"
                    }
                    ErrorKind::InvalidAlgorithm => {
                        "the token names another algorithm than HS256, the only one accepted"
                    }
                    _ => "the token is not a well-formed JWT",
                };
                tracer.note(Stage::Auth, Outcome::Fail, format_args!("{why} → 401"));
                return Err(challenge(
                    &format!("The bearer token was refused: {why}. Log in again."),
                    Some("invalid_token"),
                ));
            }
        };
        let account = db.read(|c| {
            Sql::new(c, tracer).query_opt(SELECT_BY_NAME, &[&claims.sub], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
        })?;
        let Some((id, role)) = account else {
            tracer.note(
                Stage::Auth,
                Outcome::Fail,
                format_args!(
                    "the token is for {}, who no longer has an account → 401",
                    claims.sub
                ),
            );
            return Err(challenge(
                "The token's account no longer exists.",
                Some("invalid_token"),
            ));
        };
        tracer.note(
            Stage::Auth,
            Outcome::Ok,
            format_args!("bearer token for {} (role {role}), signature valid, {} s left; the server looked nothing up to trust it but the account", claims.sub, claims.exp.saturating_sub(unix_now() as u64)),
        );
        return Ok(Caller {
            account: id,
            username: claims.sub,
            role,
            via: Via::Token,
        });
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        let hash = sha256_hex(key.trim());
        let found = db.read(|c| {
            Sql::new(c, tracer).query_opt(SELECT_BY_API_KEY, &[&hash], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
        })?;
        return match found {
            Some((id, username, role)) => {
                tracer.note(
                    Stage::Auth,
                    Outcome::Ok,
                    format_args!(
                        "API key found by its hash: it belongs to {username} (role {role})"
                    ),
                );
                Ok(Caller {
                    account: id,
                    username,
                    role,
                    via: Via::ApiKey,
                })
            }
            None => {
                tracer.note(Stage::Auth, Outcome::Fail, "no API key has this hash → 401");
                Err(challenge("The API key is not valid.", None))
            }
        };
    }
    if let Some(session) = session_cookie(headers) {
        let hash = sha256_hex(&session);
        let now = unix_now();
        let found = db.read(|c| {
            Sql::new(c, tracer).query_opt(SELECT_BY_SESSION, &[&hash, &now], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
        })?;
        let Some((id, username, role, csrf)) = found else {
            tracer.note(
                Stage::Auth,
                Outcome::Fail,
                "the session cookie matches no live session (ended or expired) → 401",
            );
            return Err(challenge("The session has ended. Log in again.", None));
        };
        if changes {
            let sent = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(sha256_hex(sent).as_bytes(), csrf.as_bytes()) {
                tracer.note(
                    Stage::Security,
                    Outcome::Fail,
                    format_args!("{username}'s session cookie came without its CSRF token (X-CSRF-Token) on a change → 403: another site could have made the browser send the cookie"),
                );
                return Err(Problem::new(
                    &super::CSRF,
                    "Send the session's CSRF token in X-CSRF-Token with every change.",
                ));
            }
        }
        tracer.note(Stage::Auth, Outcome::Ok, format_args!("session cookie for {username} (role {role}), found by its hash in the sessions table"));
        return Ok(Caller {
            account: id,
            username,
            role,
            via: Via::Session { token_hash: hash },
        });
    }
    tracer.note(Stage::Auth, Outcome::Fail, "no credentials: no Authorization header, API key or session cookie → 401 with WWW-Authenticate");
    Err(challenge(
        "This route needs you to log in: POST /login gives a bearer token.",
        None,
    ))
}

/// True when a token's header claims the `none` algorithm (an unsigned token).
fn says_alg_none(token: &str) -> bool {
    use base64::Engine as _;
    let Some(head) = token.trim().split('.').next() else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|header| {
            header["alg"]
                .as_str()
                .map(|a| a.eq_ignore_ascii_case("none"))
        })
        .unwrap_or(false)
}

/// The `session` cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
