//! Per-request traces: what each lifecycle stage did, in order, with times and a plain sentence.
//!
//! A [`Tracer`] is handed to every handler and extractor (through request extensions); they
//! record on it. When the response is ready, the capture middleware finishes the trace and
//! puts it in the [`TraceStore`]: a bounded ring (memory never grows with request count) plus a
//! broadcast channel for live viewers.
//!
//! - [`model`]: the trace as readers see it ([`Trace`], [`TraceEvent`]).
//! - [`record`]: recording it cheaply while the request runs ([`Tracer`]).
//! - [`store`]: keeping the recent ones and streaming new ones ([`TraceStore`]).
//! - [`otlp`]: one trace as OTLP JSON, for tracing tools such as Jaeger UI.
//! - [`repeats`]: statements a request ran more than once — N+1 patterns — and their fixes.
//! - [`secrets`]: the credentials a trace never keeps.

pub mod model;
pub mod otlp;
pub mod record;
pub mod repeats;
pub mod secrets;
pub mod store;

pub use model::{
    Outcome, RequestCopy, Size, SqlRecord, Timestamp, Trace, TraceContext, TraceEvent,
};
pub use record::{IdSource, RecordedTrace, Tracer};
pub use store::TraceStore;
