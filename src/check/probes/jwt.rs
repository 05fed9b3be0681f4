//! Tokens: forgeries a verifying server refuses, and the claims a token carries. Requests
//! carry no cookies: a session cookie from the login must not stand in for the token tested.

use crate::check::assert::excerpt;
use crate::check::conversation::Conversation;
use crate::check::http::{Cookies, Exchange, Outgoing};
use crate::check::result::Finding;
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Sends GET `path` with `Authorization: Bearer <token>`, shown as `shown_token`.
async fn send_bearer(
    conv: &mut Conversation,
    path: &str,
    token: &str,
    shown_token: &str,
    uses: &[String],
) -> Exchange {
    let bearer = |t: &str| {
        let mut out = Outgoing::new(Method::GET, conv.url(path));
        out.headers
            .push(("Authorization".into(), format!("Bearer {t}")));
        out
    };
    let (out, shown) = (bearer(token), bearer(shown_token));
    conv.send_shown_with(out, shown, uses, Cookies::None).await
}

pub(super) async fn forgery(
    conv: &mut Conversation,
    token_var: &str,
    path: &str,
    refused: &[u16],
) -> Result<(), Finding> {
    let Some(token) = conv.vars.get(token_var).map(str::to_string) else {
        return Err(Finding::not_run(format!(
            "needs {{{{{token_var}}}}}, which an earlier check did not capture"
        )));
    };
    conv.depends_on(token_var);
    let parts: Vec<&str> = token.split('.').collect();
    let Some(payload) = jwt_payload(&token) else {
        return Err(Finding::new(
            "the access token is not a JWT (three base64url parts: header, payload, signature), so it cannot be forged to test verification",
            None,
        ));
    };
    // A server that refuses every token would refuse the forgeries too: the genuine token
    // must be accepted first, or refusing the forged ones proves nothing.
    let uses = [token_var.to_string()];
    let genuine = send_bearer(conv, path, &token, &format!("{{{{{token_var}}}}}"), &uses).await;
    match &genuine.response {
        Ok(r) if (200..300).contains(&r.status) => {}
        Ok(r) => {
            let msg = format!(
                "the genuine token gets {} on GET {path}, so refusing forged ones proves nothing yet",
                r.status
            );
            return Err(Finding::not_run(msg));
        }
        Err(e) => return Err(Finding::new(e.to_string(), Some(genuine))),
    }
    let encode =
        |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON serializes"));

    let mut altered = payload.clone();
    let role = altered
        .get("role")
        .and_then(Value::as_str)
        .map(str::to_string);
    let change = match role {
        Some(role) if role != "admin" => {
            altered["role"] = Value::String("admin".into());
            format!("role: {role} → admin")
        }
        _ => {
            altered["sub"] = Value::String("admin".into());
            "sub → admin".to_string()
        }
    };
    let tampered = format!("{}.{}.{}", parts[0], encode(&altered), parts[2]);
    let none_header = serde_json::json!({"alg": "none", "typ": "JWT"});
    let unsigned = format!("{}.{}.", encode(&none_header), parts[1]);

    let forgeries = [
        (
            tampered,
            format!("a token whose payload was edited ({change}) with the original signature kept"),
            "the server does not verify the signature",
        ),
        (
            unsigned,
            "an unsigned token (header alg: none, same claims, no signature)".to_string(),
            "the server trusts the token's own alg header; pin the algorithm when verifying",
        ),
    ];
    for (forged, what, why) in forgeries {
        // The forged token is written out whole: pasted later, it needs no earlier request.
        let exchange = send_bearer(conv, path, &forged, &forged, &[]).await;
        match &exchange.response {
            Ok(r) if refused.contains(&r.status) => {}
            Ok(r) => {
                let msg = format!(
                    "{what} got {} on GET {path}, expected {}: {why}",
                    r.status,
                    refused
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                );
                return Err(Finding::new(msg, Some(exchange)));
            }
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
        }
    }
    Ok(())
}

/// A JWT's payload, decoded without verification.
fn jwt_payload(token: &str) -> Option<Value> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let payload = URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&payload)
        .ok()
        .filter(Value::is_object)
}

pub(super) fn claims(
    conv: &mut Conversation,
    token_var: &str,
    claims: &[String],
) -> Result<(), Finding> {
    let Some(token) = conv.vars.get(token_var).map(str::to_string) else {
        return Err(Finding::not_run(format!(
            "needs {{{{{token_var}}}}}, which an earlier check did not capture"
        )));
    };
    conv.depends_on(token_var);
    let Some(payload) = jwt_payload(&token) else {
        return Err(Finding::new(
            "the access token is not a JWT whose payload is a JSON object",
            None,
        ));
    };
    let missing: Vec<&str> = claims
        .iter()
        .filter(|c| payload.get(c.as_str()).is_none())
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Finding::new(
        format!(
            "the token's payload has no {}; it carries {}",
            missing.join(", "),
            excerpt(&payload)
        ),
        None,
    ))
}
