#!/usr/bin/env bash
# Creates the side environments of the older converters, each from its pinned requirements
# file envs/<name>.txt, in .venv-converters/<name>/. Idempotent: an environment whose stamp
# holds the sha256 of its requirements file is left alone. Quiet when nothing changed.
#
# Usage: scripts/converter_envs.sh [name...]   (default: every envs/*.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in envs/*.txt; do names+=("$(basename "$f" .txt)"); done
fi

fail() { echo "converter_envs: $*" >&2; exit 1; }

"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || fail "need Python 3.11 as '$python' (the pins are for cp311 wheels); set PYTHON=..."
"$python" -c 'import venv, ensurepip' 2>/dev/null \
  || fail "'$python -m venv' is unavailable: apt-get install python3-venv"

for name in "${names[@]}"; do
  req=envs/$name.txt
  [ -f "$req" ] || fail "no requirements file $req"
  env=.venv-converters/$name
  stamp=$env/.requirements.sha256
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$env/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "converter_envs: creating $env from $req (first time takes a few minutes)"
  start=$(date +%s)
  # A changed requirements file gets a fresh env: no leftovers of the old pins.
  rm -rf "$env"
  mkdir -p .venv-converters
  "$python" -m venv "$env" || fail "$name: '$python -m venv $env' failed"
  log=$(mktemp)
  if ! { "$env/bin/python" -m pip install -q --upgrade pip \
         && "$env/bin/python" -m pip install -q -r "$req"; } >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    rm -f "$log"
    rm -rf "$env"
    fail "$name: pip install -r $req failed (output above); the env was removed"
  fi
  rm -f "$log"
  "$env/bin/python" -m pip check >/dev/null 2>&1 \
    || echo "converter_envs: warning: pip check reports conflicts in $env" >&2
  echo "$want" > "$stamp"
  echo "converter_envs: $name ready in $(( $(date +%s) - start ))s, $(du -sh "$env" | cut -f1)"
done
