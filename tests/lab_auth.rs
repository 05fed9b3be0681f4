//! Who is calling: logins and JWTs, sessions with CSRF tokens, API keys, roles — and that no
//! trace, log line or error ever carries a password, a token or a key.

use crate::util::{ChildGuard, Lines, reqlab};
use reqlab::lab::{LabConfig, start};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

/// A bearer token for `user`.
async fn token_for(client: &reqwest::Client, url: &str, user: &str, password: &str) -> String {
    login(client, url, user, password)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn login(
    client: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{url}/login"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_says_who_you_are_and_a_role_what_you_may_do() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();

    let reply = login(&client, &url, "alice", "alicepass").await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["cache-control"], "no-store");
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap().to_string();

    let me: Value = client
        .get(format!("{url}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "user");

    // No credentials: 401 saying how to authenticate; a forged token: invalid_token.
    let none = client.get(format!("{url}/me")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"reqlab lab\""
    );
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let refused = client
        .get(format!("{url}/me"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // A token that claims no algorithm at all is refused too (the algorithm is pinned).
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(r#"{"sub":"admin","role":"admin","iat":1,"exp":9999999999}"#)
    );
    let refused = client
        .get(format!("{url}/admin/metrics"))
        .bearer_auth(&unsigned)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let traces = lab.state.traces.recent(5);
    assert!(
        traces
            .iter()
            .any(|t| t.events.iter().any(|e| e.message.contains("says alg none")))
    );
    // Another scheme is answered with the scheme to use, without an error code.
    let basic = client
        .get(format!("{url}/me"))
        .header("authorization", "Basic YWxpY2U6YWxpY2VwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(
        basic.headers()["www-authenticate"],
        "Bearer realm=\"reqlab lab\""
    );
    // A form without a password names the password.
    let half = client
        .post(format!("{url}/login"))
        .form(&[("username", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(half.status(), 422);
    let problem: Value = half.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "password");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);

    // Authenticated is not authorized: alice is a user.
    let admin_only = client
        .get(format!("{url}/admin/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_only.status(), 403);
    let admin_token = token_for(&client, &url, "admin", "adminpass").await;
    let allowed = client
        .get(format!("{url}/admin/metrics"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);

    // A wrong password and an unknown user get the same answer.
    let wrong = login(&client, &url, "alice", "nope").await;
    let unknown = login(&client, &url, "mallory", "nope").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let detail = |v: Value| v["detail"].as_str().unwrap().to_string();
    assert_eq!(
        detail(wrong.json().await.unwrap()),
        detail(unknown.json().await.unwrap())
    );

    // The trace's auth stage says who was let in, and why another was not.
    let traces = lab.state.traces.recent(50);
    assert!(traces.iter().any(|t| t.events.iter().any(|e| {
        e.message
            .contains("has role user; /admin/metrics needs role admin → 403")
    })));
    assert!(traces.iter().any(|t| {
        t.events
            .iter()
            .any(|e| e.message.contains("signature does not verify"))
    }));
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_needs_its_csrf_token_for_changes_and_an_api_key_stands_in_for_a_login() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let started = client
        .post(format!("{url}/sessions"))
        .form(&[("username", "alice"), ("password", "alicepass")])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let cookie = started.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: no Secure");
    let csrf = started.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();

    let me: Value = client
        .get(format!("{url}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["via"], "session cookie");
    let without = client.post(format!("{url}/api-keys")).send().await.unwrap();
    assert_eq!(
        without.status(),
        403,
        "a change by cookie alone could be a forged cross-site request"
    );
    let made = client
        .post(format!("{url}/api-keys"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let key = made.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let stored: String = lab
        .state
        .db
        .read(|c| c.query_row("SELECT key_hash FROM api_keys", [], |r| r.get(0)))
        .unwrap();
    assert_ne!(stored, key, "only the key's hash is kept");

    let by_key: Value = reqwest::Client::new()
        .get(format!("{url}/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_key["via"], "api key");
    assert_eq!(by_key["username"], "alice");

    let out = client
        .delete(format!("{url}/sessions/current"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = client.get(format!("{url}/me")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_trace_log_or_error_carries_a_password_a_token_or_a_key() {
    let data = tempfile::tempdir().unwrap();
    let child = reqlab(data.path())
        .args(["serve", "--port", "0", "--memory", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let mut err = Lines::new(guard.0.stderr.take().unwrap());
    let line = out.wait_for("listening on ", Duration::from_secs(20));
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    let mut secrets = vec!["alicepass".to_string(), "wrong-password-xyz".to_string()];
    let token = token_for(&client, &url, "alice", "alicepass").await;
    login(&client, &url, "alice", "wrong-password-xyz").await;
    let session = client
        .post(format!("{url}/sessions"))
        .form(&[("username", "alice"), ("password", "alicepass")])
        .send()
        .await
        .unwrap();
    let cookie = session.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let cookie_value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session=")
        .to_string();
    let csrf = session.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let key = client
        .post(format!("{url}/api-keys"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.extend([token.clone(), cookie_value, csrf, key.clone()]);
    // Credentials sent everywhere, good and bad, including where they are not expected.
    for path in ["/me", "/admin/metrics", "/tasks/1", "/nowhere", "/echo"] {
        client
            .get(format!("{url}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        client
            .get(format!("{url}{path}"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        let bad = client
            .get(format!("{url}{path}?token={token}"))
            .bearer_auth(format!("{token}x"))
            .send()
            .await
            .unwrap();
        let body = bad.text().await.unwrap();
        if path != "/echo" {
            for secret in &secrets {
                assert!(
                    !body.contains(secret.as_str()),
                    "{path}'s answer carries a secret: {body}"
                );
            }
        }
    }
    let marker = "no-leak-done";
    client
        .get(format!("{url}/health"))
        .header("x-request-id", marker)
        .send()
        .await
        .unwrap();
    err.wait_for(marker, Duration::from_secs(20));

    let traces = reqwest::get(format!("{url}/_lab/traces?limit=1000"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logs = err.collected();
    for secret in &secrets {
        if let Some(at) = traces.find(secret.as_str()) {
            let from = at.saturating_sub(300);
            panic!(
                "a trace carries a secret ({}…): …{}",
                &secret[..4],
                &traces[from..at]
            );
        }
        assert!(
            !logs.contains(secret.as_str()),
            "the log carries a secret ({}…)",
            &secret[..4]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_api_keys_are_kept_in_bounded_numbers() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();
    let token = token_for(&client, &url, "alice", "alicepass").await;
    for _ in 0..25 {
        let made = client
            .post(format!("{url}/api-keys"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
    }
    let keys: i64 = lab
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(keys, 20, "only the newest keys are kept");
    lab.stop().await.unwrap();
}
