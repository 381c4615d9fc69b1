#!/usr/bin/env bash
# Creates (or refreshes) .venv with Python 3.13 and the project installed; sourced by the other scripts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install -q uv >&2
fi
if [ ! -x .venv/bin/python ]; then
    py="$(PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || uv python find 3.13 2>/dev/null || true)"
    [ -n "$py" ] || { echo "Python 3.13 not found (pyenv 3.13.0 or uv python)" >&2; exit 1; }
    uv venv -q -p "$py" .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    VIRTUAL_ENV="$root/.venv" uv pip install -q -e ".[dev]" >&2
    touch "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
