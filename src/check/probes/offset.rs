//! Offset pages: every item the check created is in the whole list exactly once, and each
//! `limit`/`offset` page is the matching slice of it.

use super::{fetch_page, page_ids, with_query};
use crate::check::conversation::Conversation;
use crate::check::http::Exchange;
use crate::check::result::Finding;
use serde_json::Value;
use std::collections::HashMap;

/// Largest page size the contracts allow; the offset probe reads the whole list with it.
const MAX_LIMIT: usize = 100;
/// Most items the offset probe reads in pages of [`MAX_LIMIT`] before it gives up.
const MAX_LISTED: usize = 10_000;

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

/// Creates items, reads the whole list in pages of [`MAX_LIMIT`], proves every created item
/// is in it exactly once, then walks pages of `limit` across the created items and proves
/// each page is the matching slice of the list. Comparing pages with the list alone would
/// miss a bug that drops the same row from both; the created items are the check's own
/// evidence of what must be there.
pub(super) async fn offset_pages(
    conv: &mut Conversation,
    collection: &str,
    create: &Value,
    count: usize,
    limit: usize,
) -> Result<(), Finding> {
    let created = super::create_items(conv, collection, create, count).await?;
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
