#!/usr/bin/env bash
# Installs what convmend needs on a fresh Debian machine: system packages (when missing) and
# the virtual environment in .venv with pinned Python packages. Idempotent and quiet when
# nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(g++ make cmake ninja-build libopenblas-dev libflatbuffers-dev libgtest-dev
                 python3-venv python3-dev)
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# cmake and python may come from elsewhere (pyenv, pip); only ask apt for what is absent.
if [ ${#missing[@]} -gt 0 ]; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      cmake) command -v cmake >/dev/null || filtered+=("$p") ;;
      python3-venv|python3-dev) python3 -c 'import venv, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  if [ ${#filtered[@]} -gt 0 ]; then
    echo "bootstrap: installing system packages: ${filtered[*]}"
    if [ "$(id -u)" != 0 ]; then
      echo "bootstrap: need root to apt-get install ${filtered[*]}" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt requirements-converters.txt \
            requirements-converters-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python packages (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  # Converters that live beside the frameworks (see the README's dependency table); those
  # whose declared pins conflict with ours but whose code works are installed without deps.
  .venv/bin/python -m pip install -q -r requirements-converters.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-converters-nodeps.txt
  echo "$want" > "$stamp"
fi
