#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then
# checks formatting and lints, and runs every test (unit tests of each crate and the
# one integration-test binary, which talks to real moto, rsyslog and HTTP servers).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-deps.sh tests
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
# The systemd unit, checked offline against the binary the tests just built.
bash scripts/check-systemd.sh "${CARGO_TARGET_DIR:-$PWD/target}/debug/bedguard"
# The Debian package of that same binary: contents; installed, checked and purged as root.
bash scripts/check-deb.sh "${CARGO_TARGET_DIR:-$PWD/target}/debug/bedguard"
