#!/usr/bin/env bash
# Install streamvis into .venv and run the main job: a demo training run logs into a
# local log while the live web page serves it (`streamvis quickstart`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e .
exec streamvis quickstart "$@"
