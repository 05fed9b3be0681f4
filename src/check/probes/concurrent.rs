//! Requests that race: several creating requests with one unique value, sent at the same
//! moment. Exactly one may be created; the rest must be refused. A check-then-insert lets
//! requests that arrive together all pass the check; a UNIQUE index lets one through.

use super::json_request;
use crate::check::conversation::Conversation;
use crate::check::http::Exchange;
use crate::check::result::Finding;
use axum::http::Method;
use serde_json::Value;

/// Sends `count` creating requests to `path` at once and judges their statuses.
pub(super) async fn create(
    conv: &mut Conversation,
    path: &str,
    template: &Value,
    count: usize,
    created: &[u16],
    refused: &[u16],
) -> Result<(), Finding> {
    let mut outs = Vec::with_capacity(count);
    for n in 1..=count {
        conv.vars.set("n", &n.to_string());
        let body = conv.vars.render_json(template).map_err(Finding::not_run)?;
        outs.push(json_request(Method::POST, conv.url(path), Some(&body)));
    }
    let exchanges = conv.send_together(outs).await;
    let mut statuses = Vec::with_capacity(count);
    for exchange in &exchanges {
        match &exchange.response {
            Ok(r) => statuses.push(r.status),
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange.clone()))),
        }
    }
    let shown = summary(&statuses);
    let made: Vec<&Exchange> = exchanges
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| created.contains(s))
        .map(|(e, _)| e)
        .collect();
    let expected = format!(
        "one {} and the rest {}",
        codes(created, " or "),
        codes(refused, " or ")
    );
    if let Some((exchange, status)) = exchanges
        .iter()
        .zip(&statuses)
        .find(|(_, s)| !created.contains(s) && !refused.contains(s))
    {
        let msg = format!(
            "{count} requests sent at the same moment to POST {path} with one unique value answered {shown}; expected {expected}, but one answered {status}: {}",
            crate::status::advice(refused, *status)
        );
        return Err(Finding::new(msg, Some(exchange.clone())));
    }
    match made.as_slice() {
        [_] => Ok(()),
        [] => Err(Finding::new(
            format!(
                "none of {count} requests sent at the same moment to POST {path} was created ({shown}); expected {expected}: the first to arrive should win"
            ),
            exchanges.into_iter().next(),
        )),
        [_, second, ..] => Err(Finding::new(
            format!(
                "{} of {count} requests sent at the same moment to POST {path} with one unique value were created ({shown}); expected {expected}. Checking for a duplicate and then inserting lets requests that arrive together all pass the check: let a UNIQUE index (or constraint) decide, and answer {} when it refuses",
                made.len(),
                codes(refused, " or ")
            ),
            Some((*second).clone()),
        )),
    }
}

/// Statuses counted: `201 ×1, 409 ×5`.
fn summary(statuses: &[u16]) -> String {
    let mut counts: Vec<(u16, usize)> = Vec::new();
    for &s in statuses {
        match counts.iter_mut().find(|(c, _)| *c == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    counts.sort();
    counts
        .iter()
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn codes(codes: &[u16], sep: &str) -> String {
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_counted_in_order() {
        assert_eq!(summary(&[409, 201, 409, 201]), "201 ×2, 409 ×2");
    }
}
