//! Who is calling, and what may they do: the `auth-jwt` contract and the other ways a server
//! recognises its callers.
//!
//! - `POST /login` (form `username`, `password`) → a JWT bearer token (HS256 with a key made
//!   for this database; `sub`, `role`, `iat`, `exp`; the algorithm pinned when verifying).
//! - `POST /sessions` → a session cookie (`HttpOnly`, `SameSite=Lax`; `Secure` needs https)
//!   kept in the database, and a CSRF token that cookie-authenticated changes must echo.
//! - `POST /api-keys` → a key shown once and stored as a hash; `X-API-Key` then identifies.
//! - `GET /me` answers who the caller is; `GET /admin/metrics` is for the admin role only.
//!
//! Passwords are stored as argon2id hashes; a wrong password and an unknown user get the same
//! 401 (with `WWW-Authenticate`), and logins are rate-limited per client.

mod identity;

use super::Topic;
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::{Problem, ProblemType};
use crate::lab::extract::read_body;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use argon2::Argon2;
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::DefaultClock;
use governor::{Quota, RateLimiter};
pub use identity::{Caller, Via};
use serde::Serialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Authentication and authorization.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "auth",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[&UNAUTHENTICATED, &FORBIDDEN, &CSRF],
    links: &[
        ("login", "/login"),
        ("me", "/me"),
        ("admin", "/admin/metrics"),
    ],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,   -- argon2id, PHC string (salt and parameters inside)
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin'))
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,   -- SHA-256 of the cookie's value: a stolen table opens nothing
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    csrf_hash  TEXT NOT NULL,      -- SHA-256 of the CSRF token the client echoes
    expires_at INTEGER NOT NULL    -- Unix seconds
);
CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,   -- SHA-256 of the key: keys are long and random
    prefix     TEXT NOT NULL,      -- shown in lists, enough to recognise a key
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL
);
-- The key that signs this database's tokens: made here, never in the code.
INSERT INTO lab_meta (key, value) VALUES ('jwt_key', randomblob(32));
"#;

/// No credentials, or ones that do not check out.
pub static UNAUTHENTICATED: ProblemType = ProblemType {
    slug: "unauthenticated",
    status: Some(401),
    title: "Authentication is required",
    explanation: "The request carries no credentials, or ones that do not check out (a wrong password, a token that is malformed, forged or expired). 401 means \"who are you?\": WWW-Authenticate says how to answer, here with a bearer token from POST /login.",
};

/// Known, but not allowed.
pub static FORBIDDEN: ProblemType = ProblemType {
    slug: "forbidden",
    status: Some(403),
    title: "You may not do this",
    explanation: "The server knows who you are, and your role does not allow this. 403 means \"I know you; no\": logging in again will not help.",
};

/// A cookie-authenticated change without the CSRF token.
pub static CSRF: ProblemType = ProblemType {
    slug: "csrf-token",
    status: Some(403),
    title: "The CSRF token is missing or wrong",
    explanation: "A request authenticated by a session cookie changes data only with the session's CSRF token in X-CSRF-Token. A page on another site can make the browser send the cookie, but cannot read the token.",
};

/// How long a token and a session last, in seconds.
const TOKEN_LIFETIME: u64 = 15 * 60;
const SESSION_LIFETIME: u64 = 8 * 60 * 60;

/// The demo accounts, with the argon2id hashes of their published passwords (`alicepass`,
/// `adminpass`: they are in the challenge and the lesson, so their hashes hide nothing). The
/// hashes were made once with the default parameters and a random salt each, and are kept
/// here so a new lab starts in milliseconds instead of hashing twice (slow on purpose).
const DEMO_ACCOUNTS: [(&str, &str, &str); 2] = [
    (
        "alice",
        "$argon2id$v=19$m=19456,t=2,p=1$sNE5eQQMg5EbcBaK3aTeZg$o2xBWk3oV6Gr7uL6V2kT2Vj42bOBrn6Zfq/KWOwqCtY",
        "user",
    ),
    (
        "admin",
        "$argon2id$v=19$m=19456,t=2,p=1$knpVWO0+HmGJARKiLXr0JQ$v7zpVmCCqAMP2tqVqcC4QuVcyIrkvmiAxtV+0Rryjys",
        "admin",
    ),
];

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    for (username, hash, role) in DEMO_ACCOUNTS {
        tx.execute(
            "INSERT INTO accounts (username, password_hash, role) VALUES (?1, ?2, ?3)",
            rusqlite::params![username, hash, role],
        )?;
    }
    Ok(())
}

type LoginLimiter =
    RateLimiter<IpAddr, governor::state::keyed::DefaultKeyedStateStore<IpAddr>, DefaultClock>;

pub(super) struct Auth {
    lab: Arc<LabState>,
    key: Vec<u8>,
    logins: LoginLimiter,
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    // Ten logins at once per client, then one every six seconds: enough for people and for
    // the checks, too few to guess passwords.
    let quota = Quota::per_minute(NonZeroU32::new(10).expect("ten"))
        .allow_burst(NonZeroU32::new(10).expect("ten"));
    let state = Arc::new(Auth {
        lab: Arc::clone(lab),
        key: lab.db.secret("jwt_key")?,
        logins: RateLimiter::keyed(quota),
    });
    let router = OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(start_session))
        .routes(routes!(end_session))
        .routes(routes!(new_api_key))
        .routes(routes!(me))
        .routes(routes!(admin_metrics))
        .with_state(state);
    // A front end on another origin logs in here too: the same CORS list as /api.
    Ok(crate::lab::cors::around(router, lab))
}

const SELECT_ACCOUNT: &str = "SELECT id, password_hash, role FROM accounts WHERE username = ?1";

/// Reads `username` and `password` from a form body.
async fn credentials(req: Request, tracer: &Tracer) -> Result<(String, String), Problem> {
    let start = Instant::now();
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        tracer.note(
            Stage::Parsing,
            Outcome::Fail,
            "the body is not a form (application/x-www-form-urlencoded) → 415",
        );
        return Err(Problem::new(
            &crate::lab::error::UNSUPPORTED_MEDIA_TYPE,
            "Send username and password as a form: Content-Type: application/x-www-form-urlencoded.",
        )
        .with_header(
            axum::http::HeaderName::from_static("accept-post"),
            "application/x-www-form-urlencoded",
        ));
    }
    let body = read_body(req, &(), tracer, start).await?;
    let mut username = None;
    let mut password = None;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "username" => username = Some(value.into_owned()),
            "password" => password = Some(value.into_owned()),
            _ => {}
        }
    }
    tracer.timed(
        Stage::Parsing,
        start,
        Outcome::Ok,
        "read the form's username and password (the password never goes into a trace or a log)",
    );
    let missing: Vec<&str> = [("username", &username), ("password", &password)]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(name, _)| name)
        .collect();
    match (username, password) {
        (Some(u), Some(p)) if missing.is_empty() => Ok((u, p)),
        _ => {
            tracer.note(
                Stage::Validation,
                Outcome::Fail,
                format_args!("{} missing from the form → 422", missing.join(" and ")),
            );
            let mut problem = Problem::new(
                &crate::lab::error::VALIDATION,
                format!("The form needs {}.", missing.join(" and ")),
            );
            problem.errors = missing
                .iter()
                .map(|field| crate::lab::error::FieldError {
                    field: (*field).into(),
                    message: "is required".into(),
                })
                .collect();
            Err(problem)
        }
    }
}

/// Checks a login against the accounts, slowly (argon2id) and off the async workers; a wrong
/// password and an unknown user look the same from outside.
async fn check_login(
    state: &Auth,
    tracer: &Tracer,
    gate: &Gate,
    parts: &Parts,
    username: String,
    password: String,
) -> Result<(i64, String, String), Problem> {
    let who = crate::lab::extract::client_addr(parts);
    if state.logins.check_key(&who).is_err() {
        tracer.note(
            Stage::Security,
            Outcome::Fail,
            format_args!("{who} has used up its logins (10 at once, then one every 6 s) → 429: guessing passwords takes years at this pace"),
        );
        return Err(Problem::new(
            &super::security::RATE_LIMITED,
            "Too many logins from this client. Wait a few seconds and try again.",
        )
        .with_header(header::RETRY_AFTER, "6"));
    }
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_ACCOUNT, &[&username])
    })
    .await;
    let account = state.lab.db.read(|c| {
        Sql::new(c, tracer).query_opt(SELECT_ACCOUNT, &[&username], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
    })?;
    let started = Instant::now();
    let verified = tokio::task::spawn_blocking(move || {
        // An unknown user costs a hash as well, so timing does not tell who exists.
        let stored = account
            .as_ref()
            .map_or_else(|| DEMO_ACCOUNTS[0].1.to_string(), |(_, h, _)| h.clone());
        let ok = PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        account.filter(|_| ok)
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))?;
    match verified {
        Some((id, _, role)) => {
            tracer.timed(
                Stage::Auth,
                started,
                Outcome::Ok,
                format_args!("the password matches {username}'s argon2id hash (slow on purpose); {username} has role {role}"),
            );
            Ok((id, username, role))
        }
        None => {
            tracer.timed(
                Stage::Auth,
                started,
                Outcome::Fail,
                "no account matches this username and password → 401; the answer does not say which was wrong, so nobody learns which usernames exist",
            );
            Err(identity::challenge(
                "The username or password is wrong.",
                None,
            ))
        }
    }
}

/// Reads the login form and checks it: the account, its username and role, and the
/// request's head (for what else the handler needs from it).
async fn log_in(
    state: &Auth,
    tracer: &Tracer,
    gate: &Gate,
    req: Request,
) -> Result<((i64, String, String), Parts), Problem> {
    let (parts, body) = req.into_parts();
    let (username, password) =
        credentials(Request::from_parts(parts.clone(), body), tracer).await?;
    let account = check_login(state, tracer, gate, &parts, username, password).await?;
    Ok((account, parts))
}

/// A login form.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form credentials() reads.
struct LoginForm {
    /// The demo accounts are alice (password alicepass, role user) and admin (adminpass).
    #[schema(min_length = 1, example = "alice")]
    username: String,
    #[schema(min_length = 1, format = Password, example = "alicepass")]
    password: String,
}

/// A bearer token.
#[derive(Serialize, ToSchema)]
struct Token {
    /// A JWT (HS256) with the claims sub, role, iat and exp: send it as `Authorization: Bearer …`.
    access_token: String,
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: u64,
}

#[utoipa::path(post, path = "/login", tag = "auth", summary = "Log in for a bearer token",
    description = "A wrong password and an unknown user get the same 401. Ten logins at once per client, then one every six seconds.",
    request_body(content((LoginForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "A token (Cache-Control: no-store)", body = Token),
        (status = 401, description = "The username or password is wrong", headers(("WWW-Authenticate" = String, description = "How to authenticate"))),
        (status = 422, description = "username or password is missing from the form"),
        (status = 429, description = "Too many logins from this client", headers(("Retry-After" = String, description = "Seconds until the next login is allowed"))),
    ))]
async fn login(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    req: Request,
) -> Result<Response, Problem> {
    let ((_, username, role), _) = log_in(&state, &tracer, &gate, req).await?;
    let token = identity::issue_token(&state.key, &username, &role, TOKEN_LIFETIME);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "issued a JWT for {username}: HS256, signed with this lab database's key, claims sub, role, iat and exp ({} min); the server keeps no copy",
            TOKEN_LIFETIME / 60
        ),
    );
    let mut response = Json(Token {
        access_token: token,
        token_type: "bearer",
        expires_in: TOKEN_LIFETIME,
    })
    .into_response();
    // A token is a credential: no cache may keep the answer that carries it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const INSERT_SESSION: &str =
    "INSERT INTO sessions (token_hash, account_id, csrf_hash, expires_at) VALUES (?1, ?2, ?3, ?4)";
/// Ended sessions go, and only the newest [`KEPT_SESSIONS`] live ones stay, so logins cannot
/// grow the table without bound.
const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < ?1 OR rowid NOT IN (SELECT rowid FROM sessions ORDER BY rowid DESC LIMIT ?2)";
/// Live sessions kept at most.
const KEPT_SESSIONS: i64 = 1000;
/// API keys kept per account at most (older ones stop working).
const KEPT_API_KEYS: i64 = 20;
const PRUNE_API_KEYS: &str = "DELETE FROM api_keys WHERE account_id = ?1 AND rowid NOT IN (SELECT rowid FROM api_keys WHERE account_id = ?1 ORDER BY rowid DESC LIMIT ?2)";

/// A session that started.
#[derive(Serialize, ToSchema)]
struct Session {
    #[schema(example = "alice")]
    username: String,
    /// Send it back as X-CSRF-Token on every change made with the session cookie.
    csrf_token: String,
    /// Seconds until the session ends.
    expires_in: u64,
}

#[utoipa::path(post, path = "/sessions", tag = "auth", summary = "Log in for a session cookie",
    description = "Sets an HttpOnly, SameSite=Lax session cookie (Secure behind an https proxy: X-Forwarded-Proto: https); the database keeps only its hash.",
    request_body(content((LoginForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 201, description = "The session started", body = Session, headers(("Set-Cookie" = String, description = "session=…; HttpOnly; SameSite=Lax"))),
        (status = 401, description = "The username or password is wrong", headers(("WWW-Authenticate" = String, description = "How to authenticate"))),
        (status = 422, description = "username or password is missing from the form"),
        (status = 429, description = "Too many logins from this client", headers(("Retry-After" = String, description = "Seconds until the next login is allowed"))),
    ))]
async fn start_session(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    req: Request,
) -> Result<Response, Problem> {
    let ((account, username, _), parts) = log_in(&state, &tracer, &gate, req).await?;
    let session = identity::random_token();
    let csrf = identity::random_token();
    let hash = identity::sha256_hex(&session);
    let now = identity::unix_now();
    let expires = now + SESSION_LIFETIME as i64;
    gate.hold(Stage::Data, || {
        let shown = "<sha256 of the cookie>".to_string();
        let csrf_shown = "<sha256 of the CSRF token>".to_string();
        let insert: [&dyn rusqlite::ToSql; 4] = [&shown, &account, &csrf_shown, &expires];
        let prune: [&dyn rusqlite::ToSql; 2] = [&now, &KEPT_SESSIONS];
        Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(INSERT_SESSION, &insert),
                Planned::new(DELETE_EXPIRED_SESSIONS, &prune),
            ],
        )
    })
    .await;
    let (t, c) = (tracer.clone(), identity::sha256_hex(&csrf));
    state
        .lab
        .db
        .write(move |conn| {
            let sql = Sql::new(conn, &t);
            sql.execute(INSERT_SESSION, &[&hash, &account, &c, &expires])?;
            sql.execute(DELETE_EXPIRED_SESSIONS, &[&now, &KEPT_SESSIONS])?;
            Ok(())
        })
        .await?;
    let secure = parts
        .headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p == "https");
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "started a session for {username}: the cookie holds a random value, the database its hash; HttpOnly (no script reads it), SameSite=Lax (other sites' requests do not carry it, except top-level links){}",
            if secure { ", Secure" } else { "; no Secure: this lab speaks plain http, and a Secure cookie is only sent over https" }
        ),
    );
    let cookie = format!(
        "session={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_LIFETIME}{}",
        if secure { "; Secure" } else { "" }
    );
    let mut response = (
        StatusCode::CREATED,
        Json(Session {
            username,
            csrf_token: csrf,
            expires_in: SESSION_LIFETIME,
        }),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = ?1";

#[utoipa::path(delete, path = "/sessions/current", tag = "auth", summary = "Log out",
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token: a change made with the cookie needs it")),
    security(("session" = [])),
    responses(
        (status = 204, description = "The session ended; the cookie is cleared"),
        (status = 401, description = "No live session cookie", headers(("WWW-Authenticate" = String, description = "How to authenticate"))),
        (status = 403, description = "The cookie came without its CSRF token"),
    ))]
async fn end_session(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = identity::identify(&state, &tracer, &gate, &headers, true).await?;
    let Via::Session { token_hash } = &caller.via else {
        tracer.note(
            Stage::Auth,
            Outcome::Fail,
            "only a session can be ended here → 401",
        );
        return Err(identity::challenge(
            "Log out ends a session: send the session cookie.",
            None,
        ));
    };
    let (t, h) = (tracer.clone(), token_hash.clone());
    state
        .lab
        .db
        .write(move |conn| Ok(Sql::new(conn, &t).execute(DELETE_SESSION, &[&h])?))
        .await?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("ended {}'s session: the row is gone, so the cookie opens nothing any more; the answer also tells the browser to drop it", caller.username),
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

const INSERT_API_KEY: &str =
    "INSERT INTO api_keys (key_hash, prefix, account_id, created_at) VALUES (?1, ?2, ?3, ?4)";

/// A new API key.
#[derive(Serialize, ToSchema)]
struct NewApiKey {
    /// Shown once: the lab keeps only its hash. Send it as X-API-Key.
    api_key: String,
    /// Its first characters, which identify it in lists.
    prefix: String,
    owner: String,
    #[schema(format = DateTime)]
    created_at: String,
    note: &'static str,
}

#[utoipa::path(post, path = "/api-keys", tag = "auth", summary = "Make an API key",
    description = "For the caller; at most 20 per account are kept (older ones stop working).",
    params(("X-CSRF-Token" = Option<String>, Header, description = "With a session cookie: the session's CSRF token")),
    security(("bearer" = []), ("api_key" = []), ("session" = [])),
    responses(
        (status = 201, description = "The key, shown once (Cache-Control: no-store)", body = NewApiKey),
        (status = 401, description = "No valid credentials", headers(("WWW-Authenticate" = String, description = "How to authenticate"))),
        (status = 403, description = "A session cookie came without its CSRF token, or a page on another site sent the request"),
    ))]
async fn new_api_key(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = identity::identify(&state, &tracer, &gate, &headers, true).await?;
    let secret = identity::random_token();
    let key = format!("rk_{secret}");
    let prefix = key[..10].to_string();
    let hash = identity::sha256_hex(&key);
    let now = crate::lab::clock::timestamp();
    let (t, account) = (tracer.clone(), caller.account);
    let (p, h, n) = (prefix.clone(), hash, now.clone());
    state
        .lab
        .db
        .write(move |conn| {
            let sql = Sql::new(conn, &t);
            sql.execute(INSERT_API_KEY, &[&h, &p, &account, &n])?;
            sql.execute(PRUNE_API_KEYS, &[&account, &KEPT_API_KEYS])?;
            Ok(())
        })
        .await?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("made an API key for {} ({prefix}…): shown once in this answer, stored only as its SHA-256 (a fast hash is fine for a long random key; passwords need argon2)", caller.username),
    );
    let mut response = (
        StatusCode::CREATED,
        Json(NewApiKey {
            api_key: key,
            prefix,
            owner: caller.username,
            created_at: now,
            note: "Shown once: the lab keeps only its hash. Send it as X-API-Key.",
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Who is calling.
#[derive(Serialize, ToSchema)]
struct Me {
    #[schema(example = "alice")]
    username: String,
    #[schema(example = "user")]
    role: String,
    /// How the caller proved it: bearer token, session cookie or API key.
    #[schema(example = "bearer token")]
    via: &'static str,
}

#[utoipa::path(get, path = "/me", tag = "auth", summary = "Who am I?",
    security(("bearer" = []), ("api_key" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No valid credentials", headers(("WWW-Authenticate" = String, description = "How to authenticate, and for a bad token why"))),
    ))]
async fn me(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = identity::identify(&state, &tracer, &gate, &headers, false).await?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("answered who the caller is: {}", caller.username),
    );
    let mut response = Json(Me {
        username: caller.username,
        role: caller.role,
        via: caller.via.name(),
    })
    .into_response();
    // Personal: no shared cache, and ask again before reuse.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// Counts only an admin may see.
#[derive(Serialize, ToSchema)]
struct AdminCounts {
    accounts: i64,
    sessions: i64,
    api_keys: i64,
    traces_kept: usize,
}

#[utoipa::path(get, path = "/admin/metrics", tag = "auth", summary = "Counts for the admin role",
    security(("bearer" = []), ("api_key" = []), ("session" = [])),
    responses(
        (status = 200, description = "The counts", body = AdminCounts),
        (status = 401, description = "No valid credentials", headers(("WWW-Authenticate" = String, description = "How to authenticate"))),
        (status = 403, description = "Authenticated, but not an admin"),
    ))]
async fn admin_metrics(
    State(state): State<Arc<Auth>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = identity::identify(&state, &tracer, &gate, &headers, false).await?;
    if caller.role != "admin" {
        tracer.note(
            Stage::Auth,
            Outcome::Fail,
            format_args!("{} is authenticated but has role {}; /admin/metrics needs role admin → 403 (not 401: logging in again will not help)", caller.username, caller.role),
        );
        return Err(Problem::new(
            &FORBIDDEN,
            format!(
                "/admin/metrics is for the admin role; {} has role {}.",
                caller.username, caller.role
            ),
        ));
    }
    tracer.note(
        Stage::Auth,
        Outcome::Ok,
        format_args!("{} has role admin: allowed", caller.username),
    );
    let counts = state.lab.db.read(|c| {
        c.query_row(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM sessions), (SELECT count(*) FROM api_keys)",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
        )
    })?;
    Ok(Json(AdminCounts {
        accounts: counts.0,
        sessions: counts.1,
        api_keys: counts.2,
        traces_kept: state.lab.traces.len(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn the_demo_hashes_verify_their_published_passwords_and_nothing_else() {
        for ((_, hash, _), password) in DEMO_ACCOUNTS.iter().zip(["alicepass", "adminpass"]) {
            let parsed = PasswordHash::new(hash).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            );
            assert!(
                Argon2::default()
                    .verify_password(b"wrong", &parsed)
                    .is_err()
            );
            assert_eq!(parsed.algorithm.as_str(), "argon2id");
        }
        // A fresh hash of the same password has another salt, so another string.
        let again = Argon2::default()
            .hash_password(b"alicepass")
            .unwrap()
            .to_string();
        assert_ne!(again, DEMO_ACCOUNTS[0].1);
    }
}
