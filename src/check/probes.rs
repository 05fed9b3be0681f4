//! Built-in probes: behaviour a list of steps cannot express — walking pages while data
//! changes, or forging tokens.

use super::assert::{excerpt, text_of};
use super::conversation::Conversation;
use super::http::{Exchange, Outgoing};
use super::result::Finding;
use crate::course::challenge::Probe;
use crate::course::jsonpath::the_list;
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::collections::HashMap;

/// Pages during which a cursor walk adds an item (enough to catch a cursor that shifts).
const INSERTING_PAGES: usize = 2;
/// Largest page size the contracts allow; the offset probe's reference list uses it.
const MAX_LIMIT: usize = 100;

/// Runs a probe.
pub async fn run(probe: &Probe, conv: &mut Conversation) -> Result<(), Finding> {
    match probe {
        Probe::OffsetPages {
            collection,
            create,
            count,
            limit,
        } => offset_pages(conv, collection, create, *count, *limit).await,
        Probe::CursorWalk {
            collection,
            create,
            count,
            limit,
        } => cursor_walk(conv, collection, create, *count, *limit).await,
        Probe::JwtForgery {
            token,
            path,
            refused,
        } => jwt_forgery(conv, token, path, refused).await,
        Probe::JwtClaims { token, claims } => jwt_claims(conv, token, claims),
    }
}

/// Requests kept as context for a failure (the last few are what reproduces it).
const EARLIER_KEPT: usize = 3;

/// Remembers an exchange as context, keeping only the last few.
fn remember(earlier: &mut Vec<Exchange>, exchange: Exchange) {
    if earlier.len() == EARLIER_KEPT {
        earlier.remove(0);
    }
    earlier.push(exchange);
}

fn finding(
    message: impl Into<String>,
    exchange: Option<Exchange>,
    earlier: &[Exchange],
) -> Finding {
    Finding {
        message: message.into(),
        mismatch: None,
        exchange,
        earlier: earlier.to_vec(),
    }
}

/// Creates `count` items; returns their ids.
async fn create_items(
    conv: &mut Conversation,
    collection: &str,
    template: &Value,
    count: usize,
    earlier: &mut Vec<Exchange>,
) -> Result<Vec<String>, Finding> {
    let mut ids = Vec::new();
    for n in 1..=count {
        conv.vars.set("n", &n.to_string());
        let body = conv
            .vars
            .render_json(template)
            .map_err(|e| finding(format!("not run: {e}"), None, earlier))?;
        let exchange = conv.send_json(Method::POST, collection, Some(&body)).await;
        let id = match &exchange.response {
            Ok(r) if (200..300).contains(&r.status) => {
                r.json().ok().and_then(|v| v.get("id").map(text_of))
            }
            Ok(r) => {
                let msg = format!(
                    "could not create the items to page through: POST {collection} answered {}",
                    r.status
                );
                return Err(finding(msg, Some(exchange), earlier));
            }
            Err(e) => return Err(finding(e.to_string(), Some(exchange), earlier)),
        };
        let Some(id) = id else {
            let msg = format!("POST {collection} created an item but its JSON has no `id`");
            return Err(finding(msg, Some(exchange), earlier));
        };
        ids.push(id);
        remember(earlier, exchange);
    }
    Ok(ids)
}

/// Fetches a page and returns its list and the whole body.
async fn fetch_page(
    conv: &mut Conversation,
    path: &str,
    earlier: &[Exchange],
) -> Result<(Vec<Value>, Value, Exchange), Finding> {
    let exchange = conv.send_json(Method::GET, path, None).await;
    let response = match &exchange.response {
        Ok(r) => r.clone(),
        Err(e) => return Err(finding(e.to_string(), Some(exchange), earlier)),
    };
    if response.status != 200 {
        let msg = format!("GET {path} answered {}, expected 200", response.status);
        return Err(finding(msg, Some(exchange), earlier));
    }
    let body = match response.json() {
        Ok(b) => b,
        Err(why) => {
            return Err(finding(
                format!("GET {path}: {why}"),
                Some(exchange),
                earlier,
            ));
        }
    };
    let Some(Value::Array(items)) = the_list(&body).cloned() else {
        let msg = format!(
            "GET {path} should answer a JSON array or an object with an `items` array; got {}",
            excerpt(&body)
        );
        return Err(finding(msg, Some(exchange), earlier));
    };
    Ok((items, body, exchange))
}

fn ids_of(items: &[Value]) -> Option<Vec<String>> {
    items.iter().map(|i| i.get("id").map(text_of)).collect()
}

fn with_query(collection: &str, query: &str) -> String {
    let sep = if collection.contains('?') { '&' } else { '?' };
    format!("{collection}{sep}{query}")
}

async fn offset_pages(
    conv: &mut Conversation,
    collection: &str,
    create: &Value,
    count: usize,
    limit: usize,
) -> Result<(), Finding> {
    let mut earlier = Vec::new();
    create_items(conv, collection, create, count, &mut earlier).await?;
    let pages = count.div_ceil(limit) + 1;
    // The reference list: one page big enough to cover every page the walk fetches.
    let reference = (pages * limit).clamp(limit, MAX_LIMIT);
    let full_path = with_query(collection, &format!("limit={reference}&offset=0"));
    let (full, _, full_exchange) = fetch_page(conv, &full_path, &earlier).await?;
    let Some(full_ids) = ids_of(&full) else {
        return Err(finding(
            "the listed items have no `id` field",
            Some(full_exchange),
            &earlier,
        ));
    };
    remember(&mut earlier, full_exchange);
    let mut walked: Vec<String> = Vec::new();
    let mut seen_at: HashMap<String, usize> = HashMap::new();
    for page in 0..pages {
        let offset = page * limit;
        let path = with_query(collection, &format!("limit={limit}&offset={offset}"));
        let (items, _, exchange) = fetch_page(conv, &path, &earlier).await?;
        if items.len() > limit {
            let msg = format!(
                "the page at offset={offset} has {} items but limit={limit}: a page must not be longer than the limit",
                items.len()
            );
            return Err(finding(msg, Some(exchange), &earlier));
        }
        let Some(ids) = ids_of(&items) else {
            return Err(finding(
                "the listed items have no `id` field",
                Some(exchange),
                &earlier,
            ));
        };
        for (i, id) in ids.iter().enumerate() {
            if let Some(first) = seen_at.insert(id.clone(), offset) {
                let msg = format!(
                    "item {id} appears on the page at offset={first} and again at offset={offset}: pages overlap"
                );
                return Err(finding(msg, Some(exchange), &earlier));
            }
            let position = walked.len();
            match full_ids.get(position) {
                Some(expected) if expected == id => {}
                Some(expected) => {
                    let msg = format!(
                        "position {position} (offset={offset}, item {i} of the page) holds {id}, but the reference list (limit={reference}) has {expected} there: pages skip or repeat items"
                    );
                    return Err(finding(msg, Some(exchange), &earlier));
                }
                None => {}
            }
            walked.push(id.clone());
        }
        let short = items.len() < limit;
        remember(&mut earlier, exchange);
        if short || walked.len() >= full_ids.len() {
            break;
        }
    }
    let expected_len = full_ids.len().min(pages * limit);
    if walked.len() < expected_len {
        let msg = format!(
            "walking pages of {limit} reached {} items, but the reference list has {}: the pages stop early or leave gaps",
            walked.len(),
            full_ids.len()
        );
        return Err(finding(msg, None, &earlier));
    }
    Ok(())
}

async fn cursor_walk(
    conv: &mut Conversation,
    collection: &str,
    create: &Value,
    count: usize,
    limit: usize,
) -> Result<(), Finding> {
    let mut earlier = Vec::new();
    let created = create_items(conv, collection, create, count, &mut earlier).await?;
    // Far more pages than any lab-sized collection needs; a walk this long is not ending.
    let max_pages = 10_000;
    let mut path = with_query(collection, &format!("limit={limit}"));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut inserted = 0usize;
    for page in 1..=max_pages {
        let (items, body, exchange) = fetch_page(conv, &path, &earlier).await?;
        if !body.is_object() || body.get("next_cursor").is_none() {
            let msg = format!(
                "GET {path} should answer an object with `items` and `next_cursor`; got {}",
                excerpt(&body)
            );
            return Err(finding(msg, Some(exchange), &earlier));
        }
        if items.len() > limit {
            let msg = format!("page {page} has {} items but limit={limit}", items.len());
            return Err(finding(msg, Some(exchange), &earlier));
        }
        let Some(ids) = ids_of(&items) else {
            return Err(finding(
                "the listed items have no `id` field",
                Some(exchange),
                &earlier,
            ));
        };
        for id in ids {
            if let Some(first) = seen.insert(id.clone(), page) {
                let msg = format!(
                    "item {id} was returned on page {first} and again on page {page}: the cursor does not hold its place while items are added"
                );
                return Err(finding(msg, Some(exchange), &earlier));
            }
        }
        let next = body["next_cursor"].clone();
        if items.is_empty() && !next.is_null() {
            let msg = format!(
                "page {page} is empty but next_cursor is not null: the last page must say next_cursor: null"
            );
            return Err(finding(msg, Some(exchange), &earlier));
        }
        remember(&mut earlier, exchange);
        let cursor = match next {
            Value::Null => break,
            Value::String(c) if !c.is_empty() => c,
            Value::Number(n) => n.to_string(),
            other => {
                let msg = format!(
                    "next_cursor should be a cursor (a string or number), or null on the last page; got {}",
                    excerpt(&other)
                );
                return Err(finding(msg, earlier.last().cloned(), &earlier));
            }
        };
        // Add an item between the first page fetches: a cursor must keep its place; an
        // offset would not. Later pages only read, so repeated runs barely grow the data.
        if page <= INSERTING_PAGES {
            inserted += 1;
            conv.vars.set("n", &format!("new-{inserted}"));
            let body = conv
                .vars
                .render_json(create)
                .map_err(|e| finding(format!("not run: {e}"), None, &earlier))?;
            let exchange = conv.send_json(Method::POST, collection, Some(&body)).await;
            if !exchange
                .response
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status))
            {
                let msg = format!("could not add an item mid-walk with POST {collection}");
                return Err(finding(msg, Some(exchange), &earlier));
            }
            remember(&mut earlier, exchange);
        }
        let encoded: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        path = with_query(collection, &format!("limit={limit}&cursor={encoded}"));
        if page == max_pages {
            let msg = format!(
                "the walk did not end after {max_pages} pages ({} items seen): next_cursor never became null",
                seen.len()
            );
            return Err(finding(msg, None, &earlier));
        }
    }
    let missed: Vec<&String> = created
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    if let Some(first) = missed.first() {
        let msg = format!(
            "{} item(s) that existed before the walk were never returned (first: {first}): the cursor skips items",
            missed.len()
        );
        return Err(finding(msg, earlier.last().cloned(), &earlier));
    }
    Ok(())
}

async fn jwt_forgery(
    conv: &mut Conversation,
    token_var: &str,
    path: &str,
    refused: &[u16],
) -> Result<(), Finding> {
    let Some(token) = conv.vars.get(token_var).map(str::to_string) else {
        return Err(finding(
            format!("not run: needs {{{{{token_var}}}}}, which an earlier check did not capture"),
            None,
            &[],
        ));
    };
    let parts: Vec<&str> = token.split('.').collect();
    let Some(payload) = jwt_payload(&token) else {
        return Err(finding(
            "the access token is not a JWT (three base64url parts: header, payload, signature), so it cannot be forged to test verification",
            None,
            &[],
        ));
    };
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
    let mut earlier = Vec::new();
    for (forged, what, why) in forgeries {
        let mut out = Outgoing::new(Method::GET, conv.url(path));
        out.headers
            .push(("Authorization".into(), format!("Bearer {forged}")));
        let exchange = conv.send(out).await;
        match &exchange.response {
            Ok(r) if refused.contains(&r.status) => earlier.push(exchange),
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
                return Err(finding(msg, Some(exchange), &earlier));
            }
            Err(e) => return Err(finding(e.to_string(), Some(exchange), &earlier)),
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

fn jwt_claims(conv: &Conversation, token_var: &str, claims: &[String]) -> Result<(), Finding> {
    let Some(token) = conv.vars.get(token_var) else {
        return Err(finding(
            format!("not run: needs {{{{{token_var}}}}}, which an earlier check did not capture"),
            None,
            &[],
        ));
    };
    let Some(payload) = jwt_payload(token) else {
        return Err(finding(
            "the access token is not a JWT whose payload is a JSON object",
            None,
            &[],
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
    Err(Finding {
        message: format!(
            "the token's payload has no {}; it carries {}",
            missing.join(", "),
            excerpt(&payload)
        ),
        mismatch: None,
        exchange: None,
        earlier: Vec::new(),
    })
}
