//! A cursor walk while the data changes: items are added between page fetches (at the front
//! of a newest-first list, where an offset would repeat rows), and one the walk has already
//! seen is removed (which makes an offset skip a row whichever end the list grows at). A
//! cursor that is a place in the order, not a count of rows, holds through both.

use super::{create_items, page_ids, read_page, with_query};
use crate::check::assert::excerpt;
use crate::check::conversation::Conversation;
use crate::check::result::Finding;
use crate::course::challenge::Capture;
use crate::course::jsonpath::JsonPath;
use axum::http::Method;
use serde_json::Value;
use std::collections::HashMap;

/// Pages during which a cursor walk adds an item (enough to catch a cursor that shifts).
const INSERTING_PAGES: usize = 2;
/// Far more pages than any lab-sized collection needs; a walk this long is not ending.
const MAX_PAGES: usize = 10_000;
/// Statuses that say the server has no DELETE for the items (so removal cannot be tested).
const NO_DELETE: [u16; 3] = [404, 405, 501];

/// A cursor walk's settings (see [`crate::course::challenge::Probe::CursorWalk`]).
pub(super) struct Walk<'a> {
    pub collection: &'a str,
    pub create: &'a Value,
    pub count: usize,
    pub limit: usize,
    pub remove: bool,
}

/// What became of the removal the walk tries once.
enum Removal {
    /// Not tried yet (or not asked for).
    Pending,
    /// This item, already seen, was deleted.
    Done(String),
    /// The server has no DELETE: the advice saying so.
    Untested(Box<Finding>),
}

impl Walk<'_> {
    /// Creates the items, then walks the pages to the end.
    pub(super) async fn run(&self, conv: &mut Conversation) -> Result<(), Finding> {
        let collection = self.collection;
        let limit = self.limit;
        let created = create_items(conv, collection, self.create, self.count).await?;
        let next_cursor = Capture::Json(JsonPath::parse("next_cursor").expect("a valid path"));
        let mut path = with_query(collection, &format!("limit={limit}"));
        let mut uses: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut inserted = 0usize;
        let mut removal = Removal::Pending;
        let mut last_page = None;
        for page in 1..=MAX_PAGES {
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
            for id in &ids {
                if let Some(first) = seen.insert(id.clone(), page) {
                    let msg = format!(
                        "item {id} was returned on page {first} and again on page {page}: the cursor does not hold its place while items are {}",
                        changes(&removal)
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
            // Remove one of the check's own items the walk has passed, once: a cursor keeps
            // its place; an offset moves past a row it has not shown.
            if self.remove
                && matches!(removal, Removal::Pending)
                && let Some(victim) = ids.iter().find(|id| created.contains(id))
            {
                removal = self.remove_item(conv, victim).await?;
            }
            // Add an item between the first page fetches: a cursor must keep its place; an
            // offset would not. Later pages only read, so repeated runs barely grow the data.
            if page <= INSERTING_PAGES {
                inserted += 1;
                conv.vars.set("n", &format!("new-{inserted}"));
                let body = conv
                    .vars
                    .render_json(self.create)
                    .map_err(Finding::not_run)?;
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
            if page == MAX_PAGES {
                let msg = format!(
                    "the walk did not end after {MAX_PAGES} pages ({} items seen): next_cursor never became null",
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
            let why = match &removal {
                Removal::Done(removed) => format!(
                    "the cursor skips items (the walk had removed item {removed}, which it had already shown: a cursor that counts rows moves past one it has not shown)"
                ),
                _ => "the cursor skips items".to_string(),
            };
            let msg = format!(
                "{} item(s) that existed before the walk were never returned (first: {first}): {why}",
                missed.len()
            );
            return Err(Finding::new(msg, last_page));
        }
        match removal {
            Removal::Untested(advice) => Err(*advice),
            Removal::Pending if self.remove => Err(Finding::advice(
                "the walk found none of its own items with a page after it to remove, so it could not test that the cursor holds its place when an item is removed",
                None,
            )),
            _ => Ok(()),
        }
    }

    /// Deletes an item the walk has seen; a server without DELETE leaves removal untested.
    async fn remove_item(&self, conv: &mut Conversation, id: &str) -> Result<Removal, Finding> {
        let path = format!("{}/{id}", self.collection);
        let exchange = conv.send_json(Method::DELETE, &path, None).await;
        match &exchange.response {
            Ok(r) if (200..300).contains(&r.status) => Ok(Removal::Done(id.to_string())),
            Ok(r) if NO_DELETE.contains(&r.status) => {
                let msg = format!(
                    "DELETE {path} answered {}, so the walk could not test that the cursor holds its place when an item it has passed is removed (an offset in disguise skips one then); the walk with items added held",
                    r.status
                );
                Ok(Removal::Untested(Box::new(Finding::advice(
                    msg,
                    Some(exchange),
                ))))
            }
            Ok(r) => {
                let msg = format!(
                    "could not remove an item mid-walk: DELETE {path} answered {}",
                    r.status
                );
                Err(Finding::new(msg, Some(exchange)))
            }
            Err(e) => Err(Finding::new(e.to_string(), Some(exchange))),
        }
    }
}

/// How the data changed during the walk, for a message.
fn changes(removal: &Removal) -> &'static str {
    match removal {
        Removal::Done(_) => "added and removed",
        _ => "added",
    }
}
