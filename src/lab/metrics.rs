//! The lab's metrics, in the Prometheus text format at `GET /metrics`: how many requests each
//! route answered with each status, how long they took (a histogram, so percentiles can be
//! computed over any window), and how many are in flight right now; and the background job
//! queue: jobs by status and the queue depth.
//!
//! Labels are kept to bounded sets so the number of series cannot grow with what clients
//! send: the method (known ones, else `OTHER`), the route template (never the raw path), and
//! the status code.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// A finished request's series labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// A route's latency labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// A job status's series labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    status: &'static str,
}

/// Upper bounds of the latency buckets, in seconds: 0.25 ms to about 4 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 15,
    ))
}

/// Counters, histograms and gauges for every request the lab answers.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    jobs: Family<JobLabels, Gauge>,
    queue_depth: Gauge,
}

/// Route templates seen so far, kept once each for the whole process (every lab has the same
/// fixed set of routes), so that labelling a request allocates nothing.
static ROUTES: std::sync::LazyLock<std::sync::RwLock<std::collections::HashSet<&'static str>>> =
    std::sync::LazyLock::new(Default::default);

/// The route label of a request that matched no route (a 404, or one the guard refused).
pub const UNMATCHED: &str = "unmatched";

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "reqlab_http_requests",
            "Requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "reqlab_http_request_duration",
            "Time from a request's arrival to its response, by route template",
            prometheus_client::registry::Unit::Seconds,
            durations.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "reqlab_http_requests_in_flight",
            "Requests being handled right now",
            in_flight.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "reqlab_jobs",
            "Background jobs in the database, by status",
            jobs.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "reqlab_job_queue_depth",
            "Background jobs waiting or running: what backpressure limits",
            queue_depth.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
            jobs,
            queue_depth,
        }
    }
}

impl Metrics {
    /// A request arrived; it counts as in flight until the guard is dropped (also when the
    /// client goes away and the request's work is dropped half-way).
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A request was answered: `route` is its route template (or [`UNMATCHED`]).
    pub fn finished(&self, method: &axum::http::Method, route: &str, status: u16, took: Duration) {
        let method = known_method(method);
        let route = intern(route);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { route })
            .observe(took.as_secs_f64());
    }

    /// The job queue as last counted: how many jobs have each status, and the depth (those
    /// waiting or running).
    pub fn set_jobs(&self, by_status: &[(&'static str, i64)], depth: i64) {
        for (status, n) in by_status {
            self.jobs.get_or_create(&JobLabels { status }).set(*n);
        }
        self.queue_depth.set(depth);
    }

    /// Everything, in the text exposition format (OpenMetrics, which Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The one kept copy of a route template. Route templates come from the lab's router (never
/// from what a client sends), so the set stays as small as the router.
fn intern(route: &str) -> &'static str {
    if let Some(kept) = ROUTES.read().expect("routes lock").get(route) {
        return kept;
    }
    let mut routes = ROUTES.write().expect("routes lock");
    if let Some(kept) = routes.get(route) {
        return kept;
    }
    let kept: &'static str = Box::leak(route.to_string().into_boxed_str());
    routes.insert(kept);
    kept
}

/// Counts one request as in flight while it lives.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The method as a label: one of the standard ones, else `OTHER` (so a client inventing
/// methods cannot create series).
fn known_method(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn requests_are_counted_by_route_template_and_timed_in_buckets() {
        let metrics = Metrics::default();
        let first = metrics.in_flight();
        assert!(
            metrics
                .encode()
                .contains("reqlab_http_requests_in_flight 1")
        );
        metrics.finished(&Method::GET, "/tasks/{id}", 200, Duration::from_millis(3));
        drop(first);
        metrics.finished(&Method::GET, "/tasks/{id}", 200, Duration::from_millis(1));
        let weird = Method::from_bytes(b"BREW").unwrap();
        metrics.finished(&weird, UNMATCHED, 405, Duration::from_micros(100));
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"reqlab_http_requests_total{method="GET",route="/tasks/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"method="OTHER",route="unmatched",status="405"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"reqlab_http_request_duration_seconds_count{route="/tasks/{id}"} 2"#),
            "{text}"
        );
        assert!(text.contains("reqlab_http_requests_in_flight 0"), "{text}");
    }
}
