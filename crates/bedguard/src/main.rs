//! bedguard: the binary. Config, CLI, wiring, signals, metrics.

fn main() {}
