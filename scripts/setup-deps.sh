#!/usr/bin/env bash
# Installs what the test suite and the local demo need on a fresh Debian machine:
# rsyslog (a real syslog receiver, with TLS), moto's S3+SQS server, gzip for the
# benchmark reference; with `tests` (what scripts/test.sh passes) also cargo-deb and
# dpkg's tools for the Debian package check, which the demo does not need.
# Idempotent: does nothing when everything is there.
#
# Usage: scripts/setup-deps.sh [tests]
set -euo pipefail
for_tests=0
[ "${1:-}" = tests ] && for_tests=1

# The cargo-deb that scripts/check-deb.sh is written against (`--no-build --profile dev`).
CARGO_DEB_VERSION=3.8.0

need_apt=()
command -v rsyslogd >/dev/null 2>&1 || need_apt+=(rsyslog)
{ ls /usr/lib/*/rsyslog/lmnsd_gtls.so || ls /usr/lib/rsyslog/lmnsd_gtls.so; } >/dev/null 2>&1 || need_apt+=(rsyslog-gnutls)
command -v gzip >/dev/null 2>&1 || need_apt+=(gzip)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# The .deb: dpkg-shlibdeps (Depends), strip, and adduser for the package's postinst.
if [ "$for_tests" = 1 ]; then
  command -v dpkg-shlibdeps >/dev/null 2>&1 || need_apt+=(dpkg-dev)
  command -v strip >/dev/null 2>&1 || need_apt+=(binutils)
  command -v adduser >/dev/null 2>&1 || need_apt+=(adduser)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: pip install moto[server]" >&2
  python3 -m pip install --quiet 'moto[server]>=5'
  hash -r
fi
command -v moto_server >/dev/null 2>&1 || { echo "setup: moto_server still not on PATH" >&2; exit 1; }

if [ "$for_tests" = 1 ] && [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "setup: cargo install cargo-deb $CARGO_DEB_VERSION (a few minutes, once)" >&2
  # Its own temporary target dir, not the project's.
  env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
