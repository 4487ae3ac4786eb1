//! OTEL_* parsing: valid values, and invalid ones named in the error.

use std::collections::HashMap;
use tracewire_telemetry::{Config, Protocol, SamplerConfig, SpanLogTarget};

fn parse(vars: &[(&str, &str)]) -> Result<Config, tracewire_telemetry::ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup("default-svc", |k| map.get(k).cloned())
}

#[test]
fn defaults() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.service_name, "default-svc");
    assert_eq!(c.otlp, None);
    assert_eq!(
        c.sampler,
        SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOn))
    );
    assert_eq!(c.span_log, None);
}

#[test]
fn valid_values() {
    let c = parse(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs, deployment.environment=prod,team=a%20b",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("TRACEWIRE_SPAN_LOG", "/tmp/spans.jsonl"),
    ])
    .unwrap();
    assert_eq!(
        c.service_name, "from-attrs",
        "service.name from OTEL_RESOURCE_ATTRIBUTES beats the code default"
    );
    let attrs: Vec<_> = c
        .resource
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
        .collect();
    assert_eq!(
        attrs,
        [
            ("deployment.environment".into(), "prod".into()),
            ("team".into(), "a b".into())
        ]
    );
    let otlp = c.otlp.unwrap();
    assert_eq!(
        (otlp.protocol, otlp.traces_url()),
        (Protocol::Grpc, "http://jaeger:4317".into())
    );
    assert_eq!(
        c.sampler,
        SamplerConfig::ParentBased(Box::new(SamplerConfig::TraceIdRatio(0.25)))
    );
    assert_eq!(
        c.span_log,
        Some(SpanLogTarget::File("/tmp/spans.jsonl".into()))
    );

    let c = parse(&[
        ("OTEL_SERVICE_NAME", "env-name"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=x"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/"),
        ("TRACEWIRE_SPAN_LOG", "stdout"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ])
    .unwrap();
    assert_eq!(c.service_name, "env-name", "OTEL_SERVICE_NAME wins");
    assert_eq!(
        c.otlp.as_ref().unwrap().protocol,
        Protocol::HttpProtobuf,
        "http/protobuf by default"
    );
    assert_eq!(c.otlp.unwrap().traces_url(), "http://h:4318/v1/traces");
    assert_eq!(c.span_log, Some(SpanLogTarget::Stdout));
    assert_eq!(c.sampler, SamplerConfig::AlwaysOff);

    let c = parse(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c/v1/traces"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ("TRACEWIRE_SPAN_LOG", "off"),
    ])
    .unwrap();
    assert_eq!(
        c.otlp.as_ref().unwrap().traces_url(),
        "https://c/v1/traces",
        "the traces endpoint is used as is"
    );
    assert_eq!(c.otlp.unwrap().protocol, Protocol::HttpJson);
    assert_eq!(c.span_log, None);
}

#[test]
fn invalid_values_name_the_variable_and_the_value() {
    let cases = [
        (
            vec![("OTEL_TRACES_SAMPLER", "sometimes")],
            "OTEL_TRACES_SAMPLER",
            "sometimes",
        ),
        (
            vec![
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "1.5",
        ),
        (
            vec![
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "half",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "jaeger:4317",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://j:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "thrift",
        ),
        (
            vec![("OTEL_RESOURCE_ATTRIBUTES", "team")],
            "OTEL_RESOURCE_ATTRIBUTES",
            "team",
        ),
        (
            vec![("OTEL_RESOURCE_ATTRIBUTES", "team=%zz")],
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=%zz",
        ),
    ];
    for (vars, variable, value) in cases {
        let err = parse(&vars).unwrap_err();
        assert_eq!((err.variable, err.value.as_str()), (variable, value));
        let text = err.to_string();
        assert!(text.contains(variable) && text.contains(value), "{text}");
    }
}
