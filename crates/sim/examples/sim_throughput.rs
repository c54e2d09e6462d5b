//! Ad-hoc generation throughput: `cargo run --release -p sim --example sim_throughput -- [EVENTS] [PRINCIPALS]`.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let principals: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let started = Instant::now();
    let mut sim = sim::Simulation::new(sim::bench_config(events, principals));
    let (mut files, mut records, mut bytes) = (0u64, 0u64, 0u64);
    for f in sim.files() {
        files += 1;
        records += f.events as u64;
        bytes += f.json.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{records} events, {files} files, {:.1} MB JSON in {secs:.2}s: {:.0} events/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}
