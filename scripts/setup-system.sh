#!/usr/bin/env bash
# Makes sure the system binaries redscope runs and tests against are present.
# Idempotent: does nothing when every binary is already on PATH. On Debian as
# root it installs the missing packages with apt-get and stops the packages'
# own services from starting (we run every server ourselves, on loopback).
set -euo pipefail

# binary -> Debian package that ships it
declare -A PACKAGE_OF=(
  [redis-server]=redis-server
  [redis-sentinel]=redis-sentinel
  [redis-cli]=redis-tools
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [prometheus-redis-exporter]=prometheus-redis-exporter
  [openssl]=openssl
  [nft]=nftables
  [ip]=iproute2
)

declare -A missing=()
for binary in "${!PACKAGE_OF[@]}"; do
  if ! command -v "$binary" >/dev/null 2>&1; then
    missing[${PACKAGE_OF[$binary]}]=1
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

# In a fixed order, so the printed command is the same every time.
missing_packages=()
for package in iproute2 nftables openssl prometheus prometheus-alertmanager prometheus-redis-exporter \
  redis-sentinel redis-server redis-tools; do
  if [ -n "${missing[$package]:-}" ]; then missing_packages+=("$package"); fi
done
install_command="apt-get update && apt-get install -y --no-install-recommends ${missing_packages[*]}"

fail() {
  echo "redscope setup: $1" >&2
  echo "redscope setup: install the missing packages yourself, then run the command again:" >&2
  echo "    sudo sh -c '$install_command'" >&2
  exit 1
}

[ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1 ||
  fail "missing ${missing_packages[*]} and this is not a Debian system with apt-get."
[ "$(id -u)" -eq 0 ] || fail "missing ${missing_packages[*]} and not running as root."

echo "redscope setup: installing ${missing_packages[*]} with apt-get" >&2

# Debian's invoke-rc.d consults policy-rc.d: exit 101 means "do not start".
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || fail "apt-get update failed (is the Debian mirror reachable?)."
apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null ||
  fail "apt-get install ${missing_packages[*]} failed."

# A pre-existing policy-rc.d may allow starts: stop what the packages started
# under their own system users (never a user's own servers).
for user in redis prometheus; do
  pkill -u "$user" 2>/dev/null || true
done

for binary in "${!PACKAGE_OF[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || fail "$binary is still missing after the install."
done
echo "redscope setup: done" >&2
