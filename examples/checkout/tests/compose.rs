//! docker-compose.yml cannot run here (no Docker engine), so it is validated: parsed as YAML and
//! checked against the ports and settings the demo, the tests and scripts/brokers.sh use.

use serde_yaml::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docker-compose.yml"
    ))
    .unwrap();
    let mut v: Value = serde_yaml::from_str(&text).expect("valid YAML");
    v.apply_merge().expect("merge keys resolve");
    v
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn brokers_and_jaeger_publish_the_default_ports_with_health_checks() {
    let c = compose();
    let s = &c["services"];
    for (service, ports) in [
        ("kafka", vec!["9092:9092"]),
        ("rabbitmq", vec!["5672:5672", "15672:15672"]),
        ("nats", vec!["4222:4222"]),
        ("jaeger", vec!["16686:16686", "4317:4317", "4318:4318"]),
    ] {
        let published = strings(&s[service]["ports"]);
        for p in ports {
            assert!(
                published.contains(&p.to_owned()),
                "{service} publishes {p}: {published:?}"
            );
        }
    }
    for broker in ["kafka", "rabbitmq", "nats"] {
        assert!(
            !strings(&s[broker]["healthcheck"]["test"]).is_empty(),
            "{broker} has a health check"
        );
    }
    assert!(
        strings(&s["nats"]["command"]).contains(&"-js".to_owned()),
        "JetStream on"
    );
    assert_eq!(
        s["kafka"]["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller",
        "KRaft, one node"
    );
    // Jaeger v2 (one image, OTLP native), its receivers reachable from outside the container.
    let jaeger = s["jaeger"]["image"].as_str().unwrap();
    assert!(jaeger.starts_with("jaegertracing/jaeger:2."), "{jaeger}");
    let command = strings(&s["jaeger"]["command"]);
    for endpoint in ["grpc.endpoint=0.0.0.0:4317", "http.endpoint=0.0.0.0:4318"] {
        assert!(command.iter().any(|c| c.ends_with(endpoint)), "{command:?}");
    }
    assert!(s["jaeger"]["environment"].is_null(), "no v1 variables");
    // Zipkin behind its profile, on the port OTEL_TRACES_EXPORTER=zipkin sends to by default.
    assert_eq!(strings(&s["zipkin"]["profiles"]), ["zipkin"]);
    assert_eq!(strings(&s["zipkin"]["ports"]), ["9411:9411"]);
    assert!(tracewire_telemetry::DEFAULT_ZIPKIN_ENDPOINT.starts_with("http://localhost:9411/"));
    // The same ports scripts/brokers.sh starts the brokers on, without Docker.
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/brokers.sh"
    ))
    .unwrap();
    for port in ["9092", "5672", "4222"] {
        assert!(
            script.contains(&format!("port_open {port}")),
            "brokers.sh checks {port}"
        );
    }
}

#[test]
fn the_demo_profile_runs_each_checkout_service_against_the_compose_brokers() {
    let c = compose();
    let s = &c["services"];
    for service in ["api-gateway", "inventory", "payment", "fulfillment"] {
        let svc = &s[service];
        assert_eq!(strings(&svc["profiles"]), ["demo"], "{service} is optional");
        assert_eq!(strings(&svc["command"]), ["serve", service]);
        let env = &svc["environment"];
        assert_eq!(env["KAFKA_BROKERS"], "kafka:19092");
        assert_eq!(env["AMQP_URL"], "amqp://guest:guest@rabbitmq:5672/%2f");
        assert_eq!(env["NATS_URL"], "nats://nats:4222");
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://jaeger:4317");
        assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
        for broker in ["kafka", "rabbitmq", "nats"] {
            assert_eq!(
                svc["depends_on"][broker]["condition"], "service_healthy",
                "{service} waits for {broker}"
            );
        }
        let dockerfile = svc["build"]["dockerfile"].as_str().unwrap();
        assert!(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join(dockerfile)
                .exists()
        );
    }
    // The `serve` subcommand accepts exactly these service names.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_checkout"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for service in ["api-gateway", "inventory", "payment", "fulfillment"] {
        assert!(
            help.contains(service),
            "checkout serve knows {service}: {help}"
        );
    }
}
