//! `If-None-Match` in the forms RFC 9110 §13.1.2 allows besides the bare tag: a list of tags
//! (the client may hold several copies), and the tag's weak form `W/"…"` (the comparison is
//! weak). A server that compares the raw header with its ETag answers 200 to both.

use crate::check::conversation::Conversation;
use crate::check::http::Outgoing;
use crate::check::result::Finding;
use axum::http::Method;

/// Sends the list form and the weak form of the tag in `etag_var`; each must get 304.
pub(super) async fn forms(
    conv: &mut Conversation,
    path: &str,
    etag_var: &str,
) -> Result<(), Finding> {
    let Some(etag) = conv.vars.get(etag_var).map(str::to_string) else {
        return Err(Finding::not_run(format!(
            "needs {{{{{etag_var}}}}}, which an earlier check did not capture"
        )));
    };
    let run = conv.vars.get("run").unwrap_or("run").to_string();
    let other = format!("\"reqlab-other-{run}\"");
    // Each form as sent, and as shown: the tag read from the shell variable an earlier
    // request of the reproduction fills.
    let mut forms = vec![(
        format!("{other}, {etag}"),
        format!("{other}, {{{{{etag_var}}}}}"),
        "a list of tags that includes the current one",
    )];
    if !etag.starts_with("W/") {
        forms.push((
            format!("W/{etag}"),
            format!("W/{{{{{etag_var}}}}}"),
            "the weak form of the current tag",
        ));
    }
    let uses = [etag_var.to_string()];
    for (value, shown_value, what) in forms {
        let request = |v: &str| {
            let mut out = Outgoing::new(Method::GET, conv.url(path));
            out.headers.push(("If-None-Match".into(), v.to_string()));
            out
        };
        let exchange = conv
            .send_shown(request(&value), request(&shown_value), &uses)
            .await;
        match &exchange.response {
            Ok(r) if r.status == 304 => {}
            Ok(r) => {
                let msg = format!(
                    "If-None-Match: {value} ({what}) got {}, expected 304: If-None-Match may list several tags and compares them weakly (RFC 9110 §13.1.2), so split the header on commas and compare each tag without its W/ prefix",
                    r.status
                );
                return Err(Finding::new(msg, Some(exchange)));
            }
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
        }
    }
    Ok(())
}
