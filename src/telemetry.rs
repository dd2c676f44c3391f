//! Logs and traces. Logs go to stderr (JSON lines with `HOOKGATE_LOG_FORMAT=json`).
//! Traces are exported over OTLP/HTTP when `HOOKGATE_OTEL_ENDPOINT` (or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, through
//! the `tracing-opentelemetry` bridge: every `tracing` span becomes an OpenTelemetry span.
//! W3C `traceparent` strings carry a span's context across a restart: a publish stores
//! its own with the event, and each attempt of the event's deliveries links to it.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace exporter; [`Telemetry::shutdown`] sends what is left.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes the spans not yet exported.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("hookgate: traces not flushed at exit: {e}");
            }
        }
    }
}

/// Where traces go: `HOOKGATE_OTEL_ENDPOINT` (a collector's base URL, `/v1/traces` is
/// added), else whatever the standard `OTEL_EXPORTER_OTLP_*` variables say, else nowhere.
fn exporter(endpoint: Option<&str>) -> Option<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::WithExportConfig;
    let standard = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    match endpoint.filter(|e| !e.is_empty()) {
        Some(base) => {
            let url = format!("{}/v1/traces", base.trim_end_matches('/'));
            builder = builder.with_endpoint(url);
        }
        None if standard => {}
        None => return None,
    }
    match builder.build() {
        Ok(exporter) => Some(exporter),
        Err(e) => {
            eprintln!("hookgate: OpenTelemetry export is off: {e}");
            None
        }
    }
}

/// Logs to stderr and, when an endpoint is configured, traces over OTLP.
pub fn init(otel_endpoint: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if std::env::var("HOOKGATE_LOG_FORMAT").as_deref() == Ok("json") {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = exporter(otel_endpoint).map(|exporter| {
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("hookgate");
        }
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build()
    });
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("hookgate"))
            .boxed()
    });
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(traces)
        .init();
    Telemetry { provider }
}

/// The W3C `traceparent` of `span`, when it is being traced.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The remote span a `traceparent` names, as a context to parent or link to.
pub fn context_of(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` a child of the request's `traceparent`, when it sent a valid one.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(context) = traceparent.and_then(context_of) {
        let _ = span.set_parent(context);
    }
}

/// Links `span` to the span a stored `traceparent` names (a publish, from an attempt).
pub fn link_to(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(context) = traceparent.and_then(context_of) {
        span.add_link(context.span().span_context().clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back_as_its_context() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = context_of(tp).unwrap();
        let span = context.span();
        let span_context = span.span_context();
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context_of("garbage").is_none());
        assert!(context_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    }
}
