#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it all:
# ruff and mypy on the package, then pytest (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch: the CPU wheel of this machine kind (a plain `torch` would pull a CUDA build).
python -m pip install -q "torch==2.13.0" || echo "note: torch==2.13.0 not installable; torch tests will skip"
# tensorboard, lightning, transformers: the integrations' tests (they take the torch above)
python -m pip install -q -e ".[test,gcs,s3,torch,jax,tensorboard,lightning,transformers]"

# Debian's chromium for the browser tests (never a browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium missing and cannot be installed here; browser tests will skip"
  fi
fi

echo "== ruff"; ruff check streamvis tests benchmarks scripts
echo "== mypy"; mypy streamvis
# Three workers, one test file each at a time (module-scoped servers stay shared within a
# file). Many tests wait on servers, browsers and subprocesses, so on a 2-core machine three
# workers keep both cores busier than two (about 10 min against 11.5, measured 2026-12-06).
# STREAMVIS_TEST_WORKERS=0 runs it in one process; a later -n among the arguments wins.
echo "== pytest"
python -m pytest -q -p no:cacheprovider --durations=25 -n "${STREAMVIS_TEST_WORKERS:-3}" --dist loadfile "$@"
