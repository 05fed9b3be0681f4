//! Waits that must overlap: `count` requests that each wait `ms` are sent at the same moment.
//! A server that awaits its waits answers them all in about `ms`; one that blocks its event
//! loop (or serializes them behind a lock) takes about `count × ms`.

use super::json_request;
use crate::check::conversation::Conversation;
use crate::check::result::Finding;
use axum::http::Method;
use std::time::{Duration, Instant};

/// Sends `count` requests to `path` together; they must all succeed, take at least `ms` (the
/// server really waited), and together less than half of `count × ms`.
pub(super) async fn waits(
    conv: &mut Conversation,
    path: &str,
    count: usize,
    ms: u64,
) -> Result<(), Finding> {
    let outs = (0..count)
        .map(|_| json_request(Method::GET, conv.url(path), None))
        .collect();
    let start = Instant::now();
    let exchanges = conv.send_together(outs).await;
    let took = start.elapsed();
    for exchange in &exchanges {
        match &exchange.response {
            Ok(r) if (200..300).contains(&r.status) => {}
            Ok(r) => {
                let msg = format!(
                    "{count} requests to GET {path} sent at the same moment: one answered {}, so the waits could not be compared",
                    r.status
                );
                return Err(Finding::new(msg, Some(exchange.clone())));
            }
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange.clone()))),
        }
    }
    let one = Duration::from_millis(ms);
    let serial = one * count as u32;
    let shown = format!("{:.2} s", took.as_secs_f64());
    if took < one {
        let msg = format!(
            "{count} requests to GET {path} all answered in {shown}, sooner than the {ms} ms each was asked to wait: wait the time asked (await asyncio.sleep(ms / 1000)) before answering"
        );
        return Err(Finding::new(msg, exchanges.into_iter().next()));
    }
    if took >= serial / 2 {
        let msg = format!(
            "{count} requests to GET {path}, sent at the same moment, took {shown} together: one after another they take {:.2} s, overlapping they take about {:.2} s. The server handled them one at a time: a blocking call in an async handler (time.sleep, requests.get) holds the event loop, and so does a lock around the wait. Await the wait (await asyncio.sleep), or use a plain def handler, which FastAPI runs in a thread pool",
            serial.as_secs_f64(),
            one.as_secs_f64()
        );
        return Err(Finding::new(msg, exchanges.into_iter().last()));
    }
    Ok(())
}
