//! Prints a preset's size, its labels, and one record of each event name:
//! `cargo run -p sim --example sample -- [demo|eval|bench] [SEED]`.

use std::collections::BTreeMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "demo".to_owned());
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let cfg = match preset.as_str() {
        "eval" => sim::eval_config(seed),
        "bench" => sim::bench_config(100_000, 1_000),
        _ => sim::demo_config(),
    };
    let mut sim = sim::Simulation::new(cfg);
    let (mut files, mut events, mut bytes) = (0usize, 0usize, 0usize);
    let mut by_name: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for f in sim.files() {
        files += 1;
        events += f.events;
        bytes += f.json.len();
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&f.json) else {
            continue;
        };
        for r in v["Records"].as_array().into_iter().flatten() {
            let name = format!(
                "{}:{}",
                r["eventSource"].as_str().unwrap_or(""),
                r["eventName"].as_str().unwrap_or("")
            );
            let e = by_name.entry(name).or_insert_with(|| (0, r.to_string()));
            e.0 += 1;
        }
    }
    println!(
        "{files} files, {events} events, {:.1} MB JSON, {} principals",
        bytes as f64 / 1e6,
        sim.principals()
    );
    for (name, (n, example)) in &by_name {
        println!("{n:>8} {name}\n         {example}");
    }
    for l in sim.labels() {
        println!(
            "{} {} events={} {} .. {} {}",
            l.scenario.as_str(),
            l.principal,
            l.event_ids.len(),
            l.start_ms,
            l.end_ms,
            l.detail
        );
    }
}
