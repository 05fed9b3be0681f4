//! The order of a list, judged with the items the check created, wherever they fall.
//!
//! A server that keeps its data and lists a page of 20 puts new items on the last page of an
//! oldest-first list after a few runs. So the list is read page after page — following
//! `next_cursor`, a `Link: <…>; rel="next"` header or a `next` URL, else `limit`/`offset` —
//! until every created item is found: everything read must be in order, across pages too,
//! and the created items must appear in the order they were made (or its reverse).

use super::{read_page, with_query};
use crate::check::assert::{Mismatch, compare_values, excerpt, text_of};
use crate::check::conversation::Conversation;
use crate::check::http::Exchange;
use crate::check::result::Finding;
use crate::course::assertion::SortOrder;
use crate::course::challenge::Listing;
use axum::http::Method;
use serde_json::Value;
use std::cmp::Ordering;

/// Most pages read from one listing before giving up.
const MAX_PAGES: usize = 1_000;

/// A `listed-in-order` probe's settings.
pub(super) struct Listed<'a> {
    pub collection: &'a str,
    /// Variables holding the created items' ids, oldest first.
    pub ids: &'a [String],
    pub by: &'a str,
    pub fields: &'a [String],
}

/// What reading one listing found.
struct Read {
    /// The created items in the order listed, with their position in the whole list.
    found: Vec<(usize, String, Value)>,
    /// The page the last of them was on.
    exchange: Exchange,
}

impl Listed<'_> {
    /// Reads each listing and judges it.
    pub(super) async fn run(
        &self,
        conv: &mut Conversation,
        listings: &[Listing],
    ) -> Result<(), Finding> {
        let mut ids = Vec::with_capacity(self.ids.len());
        for var in self.ids {
            let Some(id) = conv.vars.get(var).map(str::to_string) else {
                return Err(Finding::not_run(format!(
                    "needs {{{{{var}}}}}, which an earlier check did not capture"
                )));
            };
            conv.depends_on(var);
            ids.push(id);
        }
        for listing in listings {
            let path = if listing.query.is_empty() {
                self.collection.to_string()
            } else {
                with_query(self.collection, &listing.query)
            };
            let read = self.read(conv, &path, listing.order, &ids).await?;
            self.judge(&path, listing.order, &ids, read)?;
        }
        Ok(())
    }

    /// Reads `path` page by page until every id is found, checking the order as it goes.
    async fn read(
        &self,
        conv: &mut Conversation,
        path: &str,
        order: SortOrder,
        ids: &[String],
    ) -> Result<Read, Finding> {
        let mut next = path.to_string();
        let mut position = 0usize;
        let mut previous: Option<(usize, Value)> = None;
        let mut found: Vec<(usize, String, Value)> = Vec::new();
        let mut first_page: Option<(usize, Option<String>)> = None;
        let mut paging = Paging::Unknown;
        for page in 1..=MAX_PAGES {
            let exchange = conv.send_json(Method::GET, &next, None).await;
            let (items, body, exchange) = read_page(&next, exchange)?;
            if page > 1
                && let Some((_, Some(first_id))) = &first_page
                && items
                    .first()
                    .and_then(|i| i.get("id"))
                    .map(text_of)
                    .as_ref()
                    == Some(first_id)
            {
                // The next page is the first one again: the server does not page this way.
                return Err(self.not_found(path, ids, &found, position, page - 1, true, exchange));
            }
            for item in &items {
                let Some(value) = item.get(self.by) else {
                    let m = Mismatch {
                        expected: format!("every listed item to have `{}`", self.by),
                        actual: format!("item {position} has no `{}`: {}", self.by, excerpt(item)),
                        diff: None,
                        fix: None,
                    };
                    return Err(mismatch(m, exchange));
                };
                if let Some((at, before)) = &previous {
                    let wrong = match order {
                        SortOrder::Asc => compare_values(before, value) == Ordering::Greater,
                        SortOrder::Desc => compare_values(before, value) == Ordering::Less,
                    };
                    if wrong {
                        let m = Mismatch {
                            expected: format!(
                                "GET {path} ordered by `{}`, {}",
                                self.by,
                                words(order)
                            ),
                            actual: format!(
                                "item {at} has {} {} but item {position} has {}",
                                self.by,
                                text_of(before),
                                text_of(value)
                            ),
                            diff: None,
                            fix: None,
                        };
                        return Err(mismatch(m, exchange));
                    }
                }
                previous = Some((position, value.clone()));
                if let Some(id) = item.get("id").map(text_of)
                    && ids.contains(&id)
                    && !found.iter().any(|(_, f, _)| *f == id)
                {
                    found.push((position, id, item.clone()));
                }
                position += 1;
            }
            if found.len() == ids.len() {
                return Ok(Read { found, exchange });
            }
            let first = first_page.get_or_insert_with(|| {
                (
                    items.len(),
                    items.first().and_then(|i| i.get("id")).map(text_of),
                )
            });
            let page_size = first.0;
            let at = Place {
                len: items.len(),
                page_size,
                read: position,
            };
            match next_page(conv.base(), path, &body, &exchange, at, &mut paging) {
                Some(n) => next = n,
                None => {
                    return Err(self.not_found(path, ids, &found, position, page, false, exchange));
                }
            }
        }
        Err(Finding::new(
            format!("GET {path} still goes on after {MAX_PAGES} pages"),
            None,
        ))
    }

    /// The finding for created items a listing never showed.
    #[allow(clippy::too_many_arguments)]
    fn not_found(
        &self,
        path: &str,
        ids: &[String],
        found: &[(usize, String, Value)],
        read: usize,
        pages: usize,
        repeats: bool,
        exchange: Exchange,
    ) -> Finding {
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !found.iter().any(|(_, f, _)| f == *id))
            .map(String::as_str)
            .collect();
        let how = if repeats {
            "; asking for the next page (limit/offset) gave the first page again, so the list has no next page this check can follow (next_cursor, a Link rel=\"next\" header, or limit/offset)"
        } else {
            ""
        };
        Finding::new(
            format!(
                "item(s) {} created by this check are not in GET {path}: read {read} item(s) over {pages} page(s){how}",
                missing.join(", ")
            ),
            Some(exchange),
        )
    }

    /// The created items must appear in creation order (asc) or its reverse (desc), and
    /// carry the fields asked for.
    fn judge(
        &self,
        path: &str,
        order: SortOrder,
        ids: &[String],
        read: Read,
    ) -> Result<(), Finding> {
        let Read { found, exchange } = read;
        let mut expected: Vec<&String> = ids.iter().collect();
        if order == SortOrder::Desc {
            expected.reverse();
        }
        let listed: Vec<&String> = found.iter().map(|(_, id, _)| id).collect();
        if listed != expected {
            let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let m = Mismatch {
                expected: format!(
                    "GET {path} listing id {} in that order ({})",
                    join(&expected),
                    words(order)
                ),
                actual: format!(
                    "they appear as {} (at positions {})",
                    join(&listed),
                    found
                        .iter()
                        .map(|(p, _, _)| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                diff: None,
                fix: None,
            };
            return Err(mismatch(m, exchange));
        }
        for (_, id, item) in &found {
            if let Some(field) = self.fields.iter().find(|f| item.get(f.as_str()).is_none()) {
                let m = Mismatch {
                    expected: format!("item {id} in GET {path} to carry `{field}`"),
                    actual: format!("it is listed as {}", excerpt(item)),
                    diff: None,
                    fix: None,
                };
                return Err(mismatch(m, exchange));
            }
        }
        Ok(())
    }
}

fn mismatch(m: Mismatch, exchange: Exchange) -> Finding {
    let mut f = Finding::new(format!("expected {}", m.expected), Some(exchange));
    f.mismatch = Some(m);
    f
}

fn words(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ascending (oldest or smallest first)",
        SortOrder::Desc => "descending (newest or largest first)",
    }
}

/// How a list has said where its next page is, once it has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// Not yet: the first page said nothing either way.
    Unknown,
    /// By links or cursors: when a page has none, the list has ended.
    Linked,
    /// By `limit`/`offset`, which the check asks for itself.
    Offset,
}

/// Where a listing is: the page just read, the first page's size, items read so far.
#[derive(Clone, Copy)]
struct Place {
    len: usize,
    page_size: usize,
    read: usize,
}

/// The path of the page after this one, by the first convention the response follows:
/// `next_cursor`, a `Link` header with `rel="next"`, a `next` URL in the body, else (for a
/// list that never named a next page) `limit`/`offset` after a full page. `None` at the end.
fn next_page(
    base: &str,
    path: &str,
    body: &Value,
    exchange: &Exchange,
    at: Place,
    paging: &mut Paging,
) -> Option<String> {
    if let Some(next) = body.get("next_cursor") {
        *paging = Paging::Linked;
        let cursor = match next {
            Value::String(c) if !c.is_empty() => c.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let encoded: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        return Some(with_query(path, &format!("cursor={encoded}")));
    }
    let link = exchange
        .response
        .as_ref()
        .ok()
        .and_then(|r| r.header("link"))
        .and_then(|l| next_link(&l));
    let named = body.get("next").and_then(Value::as_str).map(str::to_string);
    if let Some(url) = link.or(named) {
        *paging = Paging::Linked;
        return relative(base, path, &url);
    }
    let ended = body.get("next").is_some_and(Value::is_null) || at.len < at.page_size;
    if *paging == Paging::Linked || ended || at.len == 0 {
        return None;
    }
    *paging = Paging::Offset;
    Some(with_query(
        path,
        &format!("limit={}&offset={}", at.page_size, at.read),
    ))
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .strip_prefix("rel=")
                .is_some_and(|v| v.trim_matches('"').split_whitespace().any(|r| r == "next"))
        });
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// A next-page URL as a path on the checked server (absolute on it, a path, or a query).
fn relative(base: &str, path: &str, url: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix(base) {
        return Some(rest.to_string());
    }
    if url.starts_with('/') {
        return Some(url.to_string());
    }
    if let Some(query) = url.strip_prefix('?') {
        let collection = path.split('?').next().unwrap_or(path);
        return Some(format!("{collection}?{query}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_read_from_link_headers() {
        assert_eq!(
            next_link(r#"</posts?page=1>; rel="prev", </posts?page=3>; rel="next""#).as_deref(),
            Some("/posts?page=3")
        );
        assert_eq!(next_link(r#"</posts?page=1>; rel="prev""#), None);
        assert_eq!(
            relative(
                "http://h:1",
                "/posts?sort=asc",
                "http://h:1/posts?offset=20"
            )
            .as_deref(),
            Some("/posts?offset=20")
        );
        assert_eq!(
            relative("http://h:1", "/posts?sort=asc", "?sort=asc&page=2").as_deref(),
            Some("/posts?sort=asc&page=2")
        );
    }
}
