#!/usr/bin/env bash
# Creates (or refreshes) .venv with the pinned packages the FastAPI fixtures need, and prints
# the path of its python. Re-installs only when fixtures/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s fixtures/requirements.txt "$stamp"; then
  echo "setting up $venv for the FastAPI fixtures (fixtures/requirements.txt)…" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r fixtures/requirements.txt >&2
  cp fixtures/requirements.txt "$stamp"
fi
echo "$PWD/$venv/bin/python"
