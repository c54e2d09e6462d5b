#!/usr/bin/env bash
# Checks the Debian package: builds it with cargo-deb from the debug binary the tests
# built (no second, release build), checks the paths it holds, and, as root (CI is),
# installs it for real with dpkg: the installed config validates as the service user,
# the system user exists, `systemd-analyze verify` prints nothing for the installed
# unit; then purges it and checks it is gone. Any failing step exits non-zero.
#
# Usage: scripts/check-deb.sh [path/to/target/debug/bedguard]
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "check-deb: FAILED: $*" >&2
  exit 1
}
step() { echo "check-deb: $*"; }

bin="${1:-${CARGO_TARGET_DIR:-$PWD/target}/debug/bedguard}"
[ -x "$bin" ] || fail "$bin is not an executable (build first)"
[ "$(basename "$(dirname "$bin")")" = debug ] ||
  fail "$bin is not in the debug/ directory of a cargo target dir"
command -v cargo-deb >/dev/null 2>&1 ||
  fail "cargo-deb is not installed ('scripts/setup-deps.sh tests' installs it)"
for tool in dpkg-deb dpkg-shlibdeps systemd-analyze; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing ('scripts/setup-deps.sh tests' installs it)"
done

# cargo-deb packages <target dir>/debug/bedguard for `--profile dev`: point it at the
# target dir the binary is in. --strip packages a stripped copy (the debug binary
# carries hundreds of MB of debug info); --fast keeps the compression quick.
target_dir=$(cd "$(dirname "$bin")/.." && pwd)
work=$(mktemp -d)
installed_here=0
ran_dpkg_i=0
user_existed=0
cleanup() {
  if [ "$installed_here" = 1 ]; then
    echo "check-deb: purging the package this run installed" >&2
    dpkg --purge bedguard >/dev/null 2>&1 || true
  fi
  # Debian keeps system users on purge (see packaging/debian/postrm); this check removes
  # the one its install created, to leave the machine as it found it.
  if [ "$ran_dpkg_i" = 1 ] && [ "$user_existed" = 0 ] && getent passwd bedguard >/dev/null; then
    deluser --system --quiet bedguard >/dev/null 2>&1 || echo "check-deb: could not remove the bedguard user" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

deb="$work/bedguard.deb"
step "cargo deb --no-build --profile dev (binary from $target_dir/debug)"
if ! CARGO_TARGET_DIR="$target_dir" cargo deb -p bedguard --locked --no-build --profile dev \
  --strip --fast --output "$deb" >"$work/cargo-deb.log" 2>&1; then
  cat "$work/cargo-deb.log" >&2
  fail "cargo deb could not build the package"
fi
[ -s "$deb" ] || fail "cargo deb wrote no $deb"

# What the package holds.
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$work/paths"
for p in \
  /usr/bin/bedguard \
  /lib/systemd/system/bedguard.service \
  /etc/bedguard/bedguard.toml \
  /usr/share/bedguard/models/bedrock-catalogue.toml \
  /usr/share/bedguard/models/useragents.toml \
  /usr/share/bedguard/models/detector.toml \
  /usr/share/doc/bedguard/README.md \
  /usr/share/doc/bedguard/deploy.md \
  /usr/share/doc/bedguard/copyright; do
  grep -qx "$p" "$work/paths" || { cat "$work/paths" >&2; fail "the package lacks $p"; }
done
dpkg-deb -f "$deb" Depends | grep -qw adduser || fail "Depends lacks adduser: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/bedguard/bedguard.toml ||
  fail "/etc/bedguard/bedguard.toml is not a conffile"
for s in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$s" >/dev/null 2>&1 || fail "the package has no $s script"
done
step "contents ok ($(du -h "$deb" | cut -f1), $(wc -l <"$work/paths") paths)"

if [ "$(id -u)" -ne 0 ]; then
  step "not root: skipped installing the package (dpkg -i needs root; CI runs as root)"
  exit 0
fi

# Installing for real.
installed() { [ -n "$(dpkg-query -W -f='${db:Status-Status}' bedguard 2>/dev/null | grep -vx not-installed)" ]; }
if installed; then
  fail "a bedguard package is already installed here; this check installs and purges its own, remove that one first (dpkg --purge bedguard)"
fi
getent passwd bedguard >/dev/null && user_existed=1
installed_here=1
ran_dpkg_i=1
step "dpkg -i"
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; fail "dpkg -i failed"; }
[ -x /usr/bin/bedguard ] || fail "/usr/bin/bedguard is not installed"
[ "$(/usr/bin/bedguard --version)" = "$("$bin" --version)" ] ||
  fail "installed $(/usr/bin/bedguard --version), built $("$bin" --version)"

# The service user, its state directory and the config's permissions.
entry=$(getent passwd bedguard) || fail "postinst did not create the bedguard user"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[ "$uid" -lt 1000 ] || fail "bedguard is not a system user (uid $uid)"
[ "$home" = /var/lib/bedguard ] || fail "bedguard's home is $home, not /var/lib/bedguard"
[ "$shell" = /usr/sbin/nologin ] || fail "bedguard's shell is $shell, not /usr/sbin/nologin"
[ "$(getent group bedguard | cut -d: -f3)" = "$gid" ] || fail "bedguard's primary group is not bedguard"
[ "$(stat -c '%U:%G %a' /var/lib/bedguard)" = "bedguard:bedguard 700" ] ||
  fail "/var/lib/bedguard is $(stat -c '%U:%G %a' /var/lib/bedguard), expected bedguard:bedguard 700"
[ "$(stat -c '%U:%G %a' /etc/bedguard/bedguard.toml)" = "root:bedguard 640" ] ||
  fail "/etc/bedguard/bedguard.toml is $(stat -c '%U:%G %a' /etc/bedguard/bedguard.toml), expected root:bedguard 640"
step "user bedguard (uid $uid), /var/lib/bedguard and the config's permissions ok"

# The installed config validates, as root and as the service user (ExecStartPre does).
/usr/bin/bedguard validate --config /etc/bedguard/bedguard.toml ||
  fail "bedguard validate rejected the installed /etc/bedguard/bedguard.toml"
runuser -u bedguard -- /usr/bin/bedguard validate --config /etc/bedguard/bedguard.toml ||
  fail "the bedguard user cannot validate (read) /etc/bedguard/bedguard.toml"

# The installed unit, as systemd will read it.
unit=/lib/systemd/system/bedguard.service
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify $unit failed"; }
[ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify $unit printed the above"; }
doc=$(sed -n 's|^Documentation=file://||p' "$unit")
[ -f "$doc" ] || fail "the unit's Documentation= $doc is not installed"
step "installed unit verifies clean"

# Purge: package, binary, unit, config and state gone.
step "dpkg --purge"
dpkg --purge bedguard >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log" >&2; fail "dpkg --purge failed"; }
installed_here=0
if installed; then
  fail "bedguard is still known to dpkg after purge: $(dpkg-query -W -f='${db:Status-Status}' bedguard)"
fi
for p in /usr/bin/bedguard "$unit" /etc/bedguard /var/lib/bedguard /var/log/bedguard /usr/share/bedguard; do
  [ ! -e "$p" ] || fail "$p is still there after purge"
done
getent passwd bedguard >/dev/null || fail "the purge removed the bedguard user (Debian keeps system users)"
step "purged: package, files, config and state gone"
echo "Debian package: contents, install, validate, user, unit and purge ok"
