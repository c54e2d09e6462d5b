//! Write the demo GeoIP databases (`demo-City.mmdb`, `demo-ASN.mmdb`) into a directory.
//!
//! `cargo run -p enrich --features writer --example make-demo-mmdb -- models/geoip`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make-demo-mmdb DIR");
        return ExitCode::from(2);
    };
    match enrich::demo::write_demo_databases(&dir) {
        Ok((city, asn)) => {
            println!("wrote {} and {}", city.display(), asn.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-demo-mmdb: {e}");
            ExitCode::FAILURE
        }
    }
}
