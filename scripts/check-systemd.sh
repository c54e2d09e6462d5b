#!/usr/bin/env bash
# Checks systemd/bedguard.service without systemd running: `systemd-analyze verify`
# must print nothing, and the offline security exposure must be 2.5 or better.
# ExecStart must point at an existing executable, so the unit is checked with its
# paths pointing at the freshly built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$PWD/target/debug/bedguard}"
[ -x "$bin" ] || { echo "check-systemd: $bin is not an executable (build first)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/bedguard|$bin|g" systemd/bedguard.service > "$work/bedguard.service"
out=$(systemd-analyze verify --man=no "$work/bedguard.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "systemd-analyze verify printed:"; echo "$out"; exit 1; fi
# systemd 252 takes the threshold in tenths (25 = 2.5); newer ones accept 2.5 as well.
systemd-analyze security --offline=true --threshold=25 "$work/bedguard.service" | tail -1
echo "systemd unit: verify clean, exposure within 2.5"
