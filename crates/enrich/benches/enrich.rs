//! Benchmarks: GeoIP lookups (cached and uncached) and user-agent normalisation.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use enrich::{Enricher, GeoIpConfig, UaRules};

fn bench(c: &mut Criterion) {
    let geoip = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/geoip");
    let config = GeoIpConfig {
        city_db_path: Some(geoip.join("demo-City.mmdb")),
        asn_db_path: Some(geoip.join("demo-ASN.mmdb")),
        cache_entries: 65_536,
    };
    let Ok((cached, _)) = Enricher::open(&config) else {
        return;
    };
    let Ok((uncached, _)) = Enricher::open(&GeoIpConfig {
        cache_entries: 0,
        ..config
    }) else {
        return;
    };
    let addresses: Vec<String> = (0..256).map(|i| format!("73.{i}.{}.9", 255 - i)).collect();
    c.bench_function("geoip lookup, cached", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % addresses.len();
            black_box(cached.lookup(black_box(&addresses[i])))
        });
    });
    c.bench_function("geoip lookup, uncached", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % addresses.len();
            black_box(uncached.lookup(black_box(&addresses[i])))
        });
    });
    c.bench_function("classify_source, invalid", |b| {
        b.iter(|| black_box(enrich::classify_source(black_box("035.249.253.232"))));
    });

    let Ok(rules) = UaRules::builtin() else {
        return;
    };
    let agents = [
        "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64) HashiCorp-terraform-exec/0.17.3",
        "Boto3/1.34.7 md/Botocore#1.34.7 ua/2.0 os/linux#5.15 md/arch#x86_64 lang/python#3.12.0 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.7",
        "python-requests/2.31.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "example-user-agent",
    ];
    c.bench_function("ua normalize (mix of 5)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % agents.len();
            black_box(rules.normalize(black_box(agents[i])))
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
