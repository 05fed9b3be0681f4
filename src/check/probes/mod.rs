//! Built-in probes: behaviour a list of steps cannot express — walking pages while data
//! changes, requests that race, reading a list wherever it puts an item, or forging tokens.
//!
//! - [`offset`]: limit/offset pages against the whole list.
//! - [`cursor`]: a cursor walk while items are added and removed.
//! - [`concurrent`]: creating requests sent at the same moment.
//! - [`listing`]: the order of a list, read across its pages.
//! - [`etag`]: the forms of `If-None-Match` RFC 9110 allows.
//! - [`jwt`]: forged tokens and a token's claims.
//! - [`query_count`]: the query count a server reports, compared between a small and a large page.
//! - [`overlap`]: waits sent together, which must overlap rather than run one after another.
//! - [`openapi`]: the server's OpenAPI document — its rules, its errors, and answers that fit it.

mod concurrent;
mod cursor;
mod etag;
mod jwt;
mod listing;
mod offset;
mod openapi;
mod overlap;
mod query_count;

use super::assert::{excerpt, text_of};
use super::conversation::Conversation;
use super::http::{Exchange, Outgoing};
use super::result::Finding;
use crate::course::challenge::Probe;
use crate::course::jsonpath::the_list;
use axum::http::Method;
use serde_json::Value;

/// Runs a probe.
pub async fn run(probe: &Probe, conv: &mut Conversation) -> Result<(), Finding> {
    match probe {
        Probe::OffsetPages {
            collection,
            create,
            count,
            limit,
        } => offset::offset_pages(conv, collection, create, *count, *limit).await,
        Probe::CursorWalk {
            collection,
            create,
            count,
            limit,
            remove,
        } => {
            let walk = cursor::Walk {
                collection,
                create,
                count: *count,
                limit: *limit,
                remove: *remove,
            };
            walk.run(conv).await
        }
        Probe::JwtForgery {
            token,
            path,
            refused,
        } => jwt::forgery(conv, token, path, refused).await,
        Probe::JwtClaims { token, claims } => jwt::claims(conv, token, claims),
        Probe::ConcurrentCreate {
            path,
            json,
            count,
            created,
            refused,
        } => concurrent::create(conv, path, json, *count, created, refused).await,
        Probe::ListedInOrder {
            collection,
            ids,
            by,
            listings,
            fields,
        } => {
            let probe = listing::Listed {
                collection,
                ids,
                by,
                fields,
            };
            probe.run(conv, listings).await
        }
        Probe::EtagForms { path, etag } => etag::forms(conv, path, etag).await,
        Probe::OpenapiRequest {
            document,
            operation,
            required,
            bounded,
        } => openapi::request(conv, document, operation, required, bounded).await,
        Probe::OpenapiResponses {
            document,
            operation,
            statuses,
        } => openapi::responses(conv, document, operation, statuses).await,
        Probe::QueryCount { path, small, large } => {
            query_count::pages(conv, path, *small, *large).await
        }
        Probe::OverlappingWaits { path, count, ms } => {
            overlap::waits(conv, path, *count as usize, u64::from(*ms)).await
        }
        Probe::OpenapiConformance {
            document,
            collection,
            create,
        } => openapi::conformance(conv, document, collection, create).await,
    }
}

/// A request with a JSON body (or none).
pub(super) fn json_request(method: Method, url: String, json: Option<&Value>) -> Outgoing {
    let mut out = Outgoing::new(method, url);
    if let Some(v) = json {
        out.headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
        out.body = Some(serde_json::to_vec(v).expect("JSON values serialize"));
    }
    out
}

/// Creates `count` items; returns their ids.
pub(super) async fn create_items(
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
pub(super) type Page = (Vec<Value>, Value, Exchange);

/// Checks that a fetched page answered 200 with a list.
pub(super) fn read_page(path: &str, exchange: Exchange) -> Result<Page, Finding> {
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
pub(super) async fn fetch_page(conv: &mut Conversation, path: &str) -> Result<Page, Finding> {
    let exchange = conv.send_json(Method::GET, path, None).await;
    read_page(path, exchange)
}

/// The ids of a page's items, or the finding that they have none.
pub(super) fn page_ids(items: &[Value], exchange: &Exchange) -> Result<Vec<String>, Finding> {
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

pub(super) fn with_query(collection: &str, query: &str) -> String {
    let sep = if collection.contains('?') { '&' } else { '?' };
    format!("{collection}{sep}{query}")
}
