#!/usr/bin/env bash
# Install streamvis into .venv and run the main job: a demo training run logs into a
# local log while the live web page serves it (`streamvis quickstart`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "quickstart: creating .venv"
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if python -c "import streamvis.web.cli" 2>/dev/null; then
  python -m pip install -q -e .   # already installed: refresh quietly
else
  # the first install downloads Bokeh, grpcio, pyarrow, ... (a minute or two): show it
  echo "quickstart: installing streamvis and its dependencies into .venv (first run)"
  python -m pip install --upgrade pip
  python -m pip install --progress-bar on -e .
  echo "quickstart: installed"
fi
exec streamvis quickstart "$@"
