//! A server that says how many queries an answer took (`Server-Timing: db;desc="3 queries"`)
//! can be held to a page-size-independent count: one query per item (N+1) shows as a count
//! that grows with the page.

use crate::check::conversation::Conversation;
use crate::check::http::Exchange;
use crate::check::result::Finding;
use axum::http::Method;

/// Asks for a page of `small` and of `large` items; the larger may not take more queries.
pub(super) async fn pages(
    conv: &mut Conversation,
    path: &str,
    small: u32,
    large: u32,
) -> Result<(), Finding> {
    let (few, _) = count(conv, path, small).await?;
    let (many, exchange) = count(conv, path, large).await?;
    if many > few {
        let msg = format!(
            "{} ran {few} {} and {} ran {many}: the count grows with the page, one query per item — the N+1 pattern. Load what each item refers to with one IN (…) query or a JOIN",
            page(path, small),
            plural(few),
            page(path, large)
        );
        return Err(Finding::new(msg, Some(exchange)));
    }
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "query" } else { "queries" }
}

/// `path` with `limit=n` added to its query.
fn page(path: &str, n: u32) -> String {
    let joiner = if path.contains('?') { '&' } else { '?' };
    format!("{path}{joiner}limit={n}")
}

/// The query count one page's answer reports.
async fn count(conv: &mut Conversation, path: &str, n: u32) -> Result<(u64, Exchange), Finding> {
    let target = page(path, n);
    let exchange = conv.send_json(Method::GET, &target, None).await;
    let response = match &exchange.response {
        Ok(r) => r,
        Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
    };
    if !(200..300).contains(&response.status) {
        let msg = format!(
            "GET {target} answered {}, so there is no count to compare",
            response.status
        );
        return Err(Finding::new(msg, Some(exchange)));
    }
    let header = response.header("server-timing");
    match header.as_deref().and_then(db_queries) {
        Some(count) => Ok((count, exchange)),
        None => {
            let msg = match header {
                None => format!(
                    "GET {target} has no Server-Timing header: add one with a db metric whose desc says how many queries ran, such as db;dur=1.2;desc=\"2 queries\""
                ),
                Some(h) => format!(
                    "GET {target} has Server-Timing: {h}, but no db metric with a query count in its desc (such as db;dur=1.2;desc=\"2 queries\")"
                ),
            };
            Err(Finding::new(msg, Some(exchange)))
        }
    }
}

/// The first whole number in the `desc` of the metric named `db`.
pub fn db_queries(header: &str) -> Option<u64> {
    metrics(header).into_iter().find_map(|metric| {
        let mut parts = metric.split(';');
        let name = parts.next()?.trim();
        if !name.eq_ignore_ascii_case("db") {
            return None;
        }
        let desc = parts.find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("desc")
                .then(|| value.trim().trim_matches('"').to_string())
        })?;
        let digits: String = desc
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// The metrics of a Server-Timing value: split on commas outside quoted strings.
fn metrics(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in header.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&header[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_db_metric_s_count_is_read_wherever_it_sits() {
        assert_eq!(
            db_queries(r#"data;dur=0.2, db;dur=0.15;desc="2 queries", total;dur=0.7"#),
            Some(2)
        );
        assert_eq!(
            db_queries(r#"DB;desc="queries: 11, all reads";dur=3"#),
            Some(11)
        );
        assert_eq!(db_queries(r#"app;desc="a, b", db;dur=1"#), None, "no desc");
        assert_eq!(db_queries("total;dur=1"), None);
        assert_eq!(db_queries(r#"db;desc="many""#), None);
    }
}
