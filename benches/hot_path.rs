//! Micro-benchmarks of the per-attempt work that is not I/O: building the payload and
//! signing it. `cargo bench --bench hot_path`.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hookgate::delivery::retry::RetryPolicy;
use hookgate::delivery::{payload, signing};
use hookgate::model::ClaimedDelivery;

fn delivery(data_bytes: usize) -> ClaimedDelivery {
    let now = chrono::Utc::now();
    ClaimedDelivery {
        delivery_id: "01a20eba-672d-74d9-97f4-63d161174ac8".into(),
        lease_token: "lease".into(),
        attempt_count: 0,
        retry_base: 0,
        first_failure_at: None,
        event_id: "01a20eba-672d-74d9-97f4-63d084d06c9d".into(),
        event_type: "employee.updated".into(),
        occurred_at: now,
        data: format!(
            r#"{{"employee_id":"E-1","note":"{}"}}"#,
            "x".repeat(data_bytes)
        ),
        tenant_id: "acme".into(),
        tenant_name: "Acme Corp".into(),
        installation_id: "01a20eba-6722-7068-8368-596dabc9026b".into(),
        app_id: "payroll-sync".into(),
        webhook_id: "01a20eba-6728-720f-a70c-fecf985a9f02".into(),
        url: "https://hooks.example.com/bob".into(),
        secret: signing::generate_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        headers: BTreeMap::new(),
        timeout_ms: 10_000,
        retry_policy: RetryPolicy::hibob(),
        rate_limit_per_second: None,
        max_concurrency: None,
        traceparent: None,
        fence: None,
        ordering_key: None,
        sequence: None,
        ordered: false,
    }
}

fn bench(c: &mut Criterion) {
    for size in [64usize, 4096] {
        let d = delivery(size);
        let body = payload::build(&d).unwrap();
        let key = signing::secret_key(&d.secret).unwrap();
        let mut group = c.benchmark_group(format!("data {size} B"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("payload::build", |b| b.iter(|| payload::build(&d).unwrap()));
        group.bench_function("signing::sign", |b| {
            b.iter(|| signing::sign(&key, &d.delivery_id, 1_732_000_000, &body))
        });
        group.bench_function("build + sign", |b| {
            b.iter(|| {
                let body = payload::build(&d).unwrap();
                signing::signature_header([key.as_slice()], &d.delivery_id, 1_732_000_000, &body)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
