#!/usr/bin/env bash
# Installs the Debian packages logwarden needs to build and test, when any is missing.
# Idempotent and quick when nothing is missing (one dpkg-query). Needs root (or sudo) to install.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libpcre2-dev zlib1g-dev libjansson-dev libxxhash-dev
  libsqlite3-dev sqlite3 libmicrohttpd-dev libyaml-dev
  curl gzip
  libcmocka-dev libcurl4-openssl-dev liblapacke-dev libgsl-dev
  clang libclang-rt-14-dev
  python3 python3-jsonschema
  librdkafka-dev kcat maven default-jdk-headless
  clickhouse-server clickhouse-client
  chromium fonts-dejavu-core
)
# npm fetches the dashboard's charting library at build time (and the test driver). Node.js from
# elsewhere (e.g. NodeSource) brings its own npm, which Debian's npm package would conflict with.
if ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them and re-run" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
