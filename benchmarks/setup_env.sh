#!/usr/bin/env bash
# Build the benchmark environment /work/main/.venv-bench (or $BENCH_VENV):
# streamvis itself plus the tools users would pick instead (TensorBoard, its Rust data
# server, tensorboardX, tbparse, MLflow, Aim), each optional: a tool that fails to install
# is recorded in $VENV/competitors.txt and its table row says why.
#
# The competitors pin their own protobuf; streamvis needs protobuf>=7.36. `python -m
# benchmarks compare` therefore always runs streamvis in the project venv (.venv) and each
# competitor workload in a subprocess of this venv, and prints one table.
#
#   bash benchmarks/setup_env.sh            # idempotent; re-run to retry failed tools
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.venv-bench}"
PY="${PYTHON:-python3}"
LOG="$VENV/setup.log"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || { echo "cannot create $VENV" >&2; exit 1; }
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
: >"$LOG"
"${PIP[@]}" install -q --upgrade pip >>"$LOG" 2>&1 || true

# Never let pip pick another torch: the CPU wheel on disk, pinned for every later install.
CONSTRAINTS="$VENV/constraints.txt"
echo "torch==2.13.0" >"$CONSTRAINTS"
"${PIP[@]}" install -q "torch==2.13.0" >>"$LOG" 2>&1 || echo "torch==2.13.0 failed (see $LOG)" >&2
"${PIP[@]}" install -q -c "$CONSTRAINTS" -e "$ROOT" psutil py-spy >>"$LOG" 2>&1 \
  || echo "streamvis into $VENV failed (see $LOG); compare uses $ROOT/.venv for streamvis" >&2

STATUS="$VENV/competitors.txt"
: >"$STATUS"
install_one() {  # name, pip spec..., then the import to check after "--"
  local name="$1"; shift
  local specs=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do specs+=("$1"); shift; done
  shift
  local mod="$1"
  echo "== installing $name: ${specs[*]}" | tee -a "$LOG" >&2
  if ! "${PIP[@]}" install -q -c "$CONSTRAINTS" "${specs[@]}" >>"$LOG" 2>&1; then
    echo "$name	FAIL	pip install ${specs[*]} failed (see .venv-bench/setup.log)" >>"$STATUS"; return
  fi
  local err
  if err="$("$VENV/bin/python" -c "import $mod" 2>&1)"; then
    local ver
    ver="$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('${specs[0]%%[=<>]*}'))" 2>/dev/null)"
    echo "$name	OK	$ver" >>"$STATUS"
  else
    echo "$name	FAIL	import $mod: $(echo "$err" | tail -1)" >>"$STATUS"
  fi
}
install_one tensorboard tensorboard -- tensorboard
install_one tensorboard-data-server tensorboard-data-server -- tensorboard_data_server
install_one tensorboardX tensorboardX -- tensorboardX
install_one tbparse tbparse -- tbparse
install_one mlflow mlflow -- mlflow
install_one aim aim -- aim

"${PIP[@]}" check >>"$LOG" 2>&1 || echo "note: pip check reports conflicts in $VENV (see $LOG)" >&2
echo "--- $STATUS" >&2
cat "$STATUS" >&2
