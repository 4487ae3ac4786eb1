//! OTLP log records over gRPC to an in-process collector — a real tonic server speaking the
//! collector's `LogsService` — carry the trace and span ids of the span they were logged in.

mod common;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use std::sync::{Arc, Mutex};
use tracewire_telemetry::{Config, LogTarget, LogsExporter, Telemetry};

/// (body, trace id, span id) of every record received.
type Records = Arc<Mutex<Vec<(String, Vec<u8>, Vec<u8>)>>>;

struct Collector(Records);

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let records = (request.into_inner().resource_logs.into_iter())
            .flat_map(|rl| rl.scope_logs)
            .flat_map(|sl| sl.log_records);
        for r in records {
            let body = match r.body.and_then(|b| b.value) {
                Some(Value::StringValue(s)) => s,
                other => format!("{other:?}"),
            };
            self.0.lock().unwrap().push((body, r.trace_id, r.span_id));
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[test]
fn log_records_reach_a_grpc_collector_with_their_span_ids() {
    let records = Records::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(LogsServiceServer::new(Collector(records.clone())))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    rt.spawn(server);

    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_TRACES_EXPORTER", "none".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
    ];
    let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let config = Config::from_lookup("payment", lookup).unwrap();
    assert_eq!(config.logs_exporters, [LogsExporter::Otlp]);
    let guard = Telemetry::new(config).logs(LogTarget::Off).build().unwrap();
    let span = common::log_charged_in_a_span(guard);
    let records = records.lock().unwrap();
    let (_, trace, span_id) = (records.iter())
        .find(|(body, _, _)| body == "charged")
        .unwrap_or_else(|| panic!("the record reached the collector: {records:?}"));
    assert_eq!(trace.as_slice(), span.trace_id().to_bytes());
    assert_eq!(span_id.as_slice(), span.span_id().to_bytes());
}
