#!/usr/bin/env bash
# Runs every reqlab test. Sets up what the tests need first (a Python venv with the pinned
# FastAPI fixture packages), so this is the only command a fresh clone needs.
# Extra arguments go to cargo test (e.g. scripts/test.sh cursor).
set -euo pipefail
cd "$(dirname "$0")/.."
REQLAB_FIXTURE_PYTHON="$(bash scripts/python-env.sh)"
export REQLAB_FIXTURE_PYTHON
# Fixture apps must not leave __pycache__ folders in the repository.
export PYTHONDONTWRITEBYTECODE=1
cargo test --locked "$@"
