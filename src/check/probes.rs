//! Built-in probes: behaviour a list of steps cannot express — walking pages while data
//! changes, or forging tokens.

use super::assert::{excerpt, text_of};
use super::conversation::Conversation;
use super::http::{Exchange, Outgoing};
use super::result::Finding;
use crate::course::challenge::{Capture, Probe};
use crate::course::jsonpath::{JsonPath, the_list};
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::collections::HashMap;

/// Pages during which a cursor walk adds an item (enough to catch a cursor that shifts).
const INSERTING_PAGES: usize = 2;
/// Largest page size the contracts allow; the offset probe reads the whole list with it.
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

/// Most items the offset probe reads in pages of [`MAX_LIMIT`] before it gives up.
const MAX_LISTED: usize = 10_000;

/// Creates `count` items; returns their ids.
async fn create_items(
    conv: &mut Conversation,
    collection: &str,
    template: &Value,
    count: usize,
) -> Result<Vec<String>, Finding> {
    let mut ids = Vec::new();
    for n in 1..=count {
        conv.vars.set("n", &n.to_string());
        let body = conv.vars.render_json(template).map_err(Finding::not_run)?;
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
                return Err(Finding::new(msg, Some(exchange)));
            }
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
        };
        let Some(id) = id else {
            let msg = format!("POST {collection} created an item but its JSON has no `id`");
            return Err(Finding::new(msg, Some(exchange)));
        };
        ids.push(id);
    }
    Ok(ids)
}

/// A page as fetched: its list, the whole body, and the exchange.
type Page = (Vec<Value>, Value, Exchange);

/// Checks that a fetched page answered 200 with a list.
fn read_page(path: &str, exchange: Exchange) -> Result<Page, Finding> {
    let response = match &exchange.response {
        Ok(r) => r.clone(),
        Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
    };
    if response.status != 200 {
        let msg = format!("GET {path} answered {}, expected 200", response.status);
        return Err(Finding::new(msg, Some(exchange)));
    }
    let body = match response.json() {
        Ok(b) => b,
        Err(why) => return Err(Finding::new(format!("GET {path}: {why}"), Some(exchange))),
    };
    let Some(Value::Array(items)) = the_list(&body).cloned() else {
        let msg = format!(
            "GET {path} should answer a JSON array or an object with an `items` array; got {}",
            excerpt(&body)
        );
        return Err(Finding::new(msg, Some(exchange)));
    };
    Ok((items, body, exchange))
}

/// Fetches a page and returns its list and the whole body.
async fn fetch_page(conv: &mut Conversation, path: &str) -> Result<Page, Finding> {
    let exchange = conv.send_json(Method::GET, path, None).await;
    read_page(path, exchange)
}

/// Fetches the offset page at `offset` of size `limit` and returns its ids and exchange; a
/// page longer than its limit is a finding.
async fn offset_page(
    conv: &mut Conversation,
    collection: &str,
    limit: usize,
    offset: usize,
) -> Result<(Vec<String>, Exchange), Finding> {
    let path = with_query(collection, &format!("limit={limit}&offset={offset}"));
    let (items, _, exchange) = fetch_page(conv, &path).await?;
    if items.len() > limit {
        let msg = format!(
            "the page at offset={offset} has {} items but limit={limit}: a page must not be longer than the limit",
            items.len()
        );
        return Err(Finding::new(msg, Some(exchange)));
    }
    let ids = page_ids(&items, &exchange)?;
    Ok((ids, exchange))
}

/// The ids of a page's items, or the finding that they have none.
fn page_ids(items: &[Value], exchange: &Exchange) -> Result<Vec<String>, Finding> {
    items
        .iter()
        .map(|i| i.get("id").map(text_of))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Finding::new(
                "the listed items have no `id` field",
                Some(exchange.clone()),
            )
        })
}

fn with_query(collection: &str, query: &str) -> String {
    let sep = if collection.contains('?') { '&' } else { '?' };
    format!("{collection}{sep}{query}")
}

/// Creates items, reads the whole list in pages of [`MAX_LIMIT`], proves every created item
/// is in it exactly once, then walks pages of `limit` across the created items and proves
/// each page is the matching slice of the list. Comparing pages with the list alone would
/// miss a bug that drops the same row from both; the created items are the check's own
/// evidence of what must be there.
async fn offset_pages(
    conv: &mut Conversation,
    collection: &str,
    create: &Value,
    count: usize,
    limit: usize,
) -> Result<(), Finding> {
    let created = create_items(conv, collection, create, count).await?;
    let mut list: Vec<String> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    let last_page = loop {
        let (ids, exchange) = offset_page(conv, collection, MAX_LIMIT, list.len()).await?;
        let short = ids.len() < MAX_LIMIT;
        for id in ids {
            if let Some(first) = position.insert(id.clone(), list.len()) {
                let msg = format!(
                    "item {id} is listed at position {first} and again at position {} (pages of {MAX_LIMIT}): pages overlap, or offset is ignored",
                    list.len()
                );
                return Err(Finding::new(msg, Some(exchange)));
            }
            list.push(id);
        }
        if short {
            break exchange;
        }
        if list.len() >= MAX_LISTED {
            let msg = format!(
                "the list still goes on after {MAX_LISTED} items in pages of {MAX_LIMIT}; is offset ignored?"
            );
            return Err(Finding::new(msg, Some(exchange)));
        }
    };
    let mut spots = Vec::new();
    for id in &created {
        let Some(&at) = position.get(id) else {
            let msg = format!(
                "item {id}, which this check created with POST {collection}, is never listed: reading GET {collection}?limit={MAX_LIMIT}&offset=… to the end ({} items) does not return it",
                list.len()
            );
            return Err(Finding::new(msg, Some(last_page)));
        };
        spots.push(at);
    }
    let first = spots.iter().copied().min().unwrap_or(0);
    let last = spots.iter().copied().max().unwrap_or(0);
    let mut offset = first / limit * limit;
    while offset <= last {
        let (ids, exchange) = offset_page(conv, collection, limit, offset).await?;
        let expected = &list[offset.min(list.len())..(offset + limit).min(list.len())];
        if ids != expected {
            let msg = match ids.iter().zip(expected).position(|(a, b)| a != b) {
                Some(i) => format!(
                    "position {} (offset={offset}, item {i} of the page) holds {}, but the whole list (pages of {MAX_LIMIT}) has {} there: pages skip or repeat items",
                    offset + i,
                    ids[i],
                    expected[i]
                ),
                None => format!(
                    "the page at offset={offset} has {} items where the whole list has {} from there: the pages stop early or leave gaps",
                    ids.len(),
                    expected.len()
                ),
            };
            return Err(Finding::new(msg, Some(exchange)));
        }
        offset += limit;
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
    let created = create_items(conv, collection, create, count).await?;
    // Far more pages than any lab-sized collection needs; a walk this long is not ending.
    let max_pages = 10_000;
    let next_cursor = Capture::Json(JsonPath::parse("next_cursor").expect("a valid path"));
    let mut path = with_query(collection, &format!("limit={limit}"));
    let mut uses: Vec<String> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut inserted = 0usize;
    let mut last_page = None;
    for page in 1..=max_pages {
        let exchange = conv
            .send_json_using(Method::GET, &path, None, &uses)
            .await
            .map_err(Finding::not_run)?;
        let shown_path = exchange
            .request
            .url
            .trim_start_matches(conv.base())
            .to_string();
        let (items, body, exchange) = read_page(&shown_path, exchange)?;
        if !body.is_object() || body.get("next_cursor").is_none() {
            let msg = format!(
                "GET {shown_path} should answer an object with `items` and `next_cursor`; got {}",
                excerpt(&body)
            );
            return Err(Finding::new(msg, Some(exchange)));
        }
        if items.len() > limit {
            let msg = format!("page {page} has {} items but limit={limit}", items.len());
            return Err(Finding::new(msg, Some(exchange)));
        }
        let ids = page_ids(&items, &exchange)?;
        for id in ids {
            if let Some(first) = seen.insert(id.clone(), page) {
                let msg = format!(
                    "item {id} was returned on page {first} and again on page {page}: the cursor does not hold its place while items are added"
                );
                return Err(Finding::new(msg, Some(exchange)));
            }
        }
        let next = body["next_cursor"].clone();
        if items.is_empty() && !next.is_null() {
            let msg = format!(
                "page {page} is empty but next_cursor is not null: the last page must say next_cursor: null"
            );
            return Err(Finding::new(msg, Some(exchange)));
        }
        let cursor = match next {
            Value::Null => {
                last_page = Some(exchange);
                break;
            }
            Value::String(c) if !c.is_empty() => c,
            Value::Number(n) => n.to_string(),
            other => {
                let msg = format!(
                    "next_cursor should be a cursor (a string or number), or null on the last page; got {}",
                    excerpt(&other)
                );
                return Err(Finding::new(msg, Some(exchange)));
            }
        };
        // The next page's request reads the cursor this response returned.
        let name = format!("cursor{page}");
        let encoded: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        conv.provide(&name, &encoded, next_cursor.clone(), true);
        // Add an item between the first page fetches: a cursor must keep its place; an
        // offset would not. Later pages only read, so repeated runs barely grow the data.
        if page <= INSERTING_PAGES {
            inserted += 1;
            conv.vars.set("n", &format!("new-{inserted}"));
            let body = conv.vars.render_json(create).map_err(Finding::not_run)?;
            let exchange = conv.send_json(Method::POST, collection, Some(&body)).await;
            if !exchange
                .response
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status))
            {
                let msg = format!("could not add an item mid-walk with POST {collection}");
                return Err(Finding::new(msg, Some(exchange)));
            }
        }
        path = with_query(collection, &format!("limit={limit}&cursor={{{{{name}}}}}"));
        uses = vec![name];
        if page == max_pages {
            let msg = format!(
                "the walk did not end after {max_pages} pages ({} items seen): next_cursor never became null",
                seen.len()
            );
            return Err(Finding::new(msg, None));
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
        return Err(Finding::new(msg, last_page));
    }
    Ok(())
}

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
    conv.send_shown(out, shown, uses).await
}

async fn jwt_forgery(
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

fn jwt_claims(conv: &mut Conversation, token_var: &str, claims: &[String]) -> Result<(), Finding> {
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
