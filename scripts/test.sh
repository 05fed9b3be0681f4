#!/usr/bin/env bash
# Runs every reqlab test. Sets up what the tests need first (a Python venv with the pinned
# FastAPI fixture packages) and checks for tmux and Chromium, so this is the only command a fresh clone needs.
# Extra arguments go to cargo test (e.g. scripts/test.sh cursor).
set -euo pipefail
cd "$(dirname "$0")/.."
# The end-to-end test drives the guide in tmux, as a learner's terminal would; the CORS test
# opens the lab's demo page in headless Chromium.
command -v tmux >/dev/null 2>&1 || {
  echo "scripts/test.sh: tmux is missing; the end-to-end test runs the guide in it." >&2
  echo "  Debian/Ubuntu: sudo apt-get install tmux    macOS: brew install tmux" >&2
  exit 2
}
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  command -v google-chrome >/dev/null 2>&1 || {
  echo "scripts/test.sh: Chromium is missing; the CORS test opens a page in it." >&2
  echo "  Debian/Ubuntu: sudo apt-get install chromium    macOS: brew install --cask chromium" >&2
  exit 2
}
# The book is built with mdBook in the tests (every lesson a chapter); install it once.
MDBOOK_VERSION=0.5.4
if ! mdbook --version 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
  echo "scripts/test.sh: installing mdBook $MDBOOK_VERSION for the book test (cargo install, a few minutes once)…" >&2
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet
fi
REQLAB_FIXTURE_PYTHON="$(bash scripts/python-env.sh)"
export REQLAB_FIXTURE_PYTHON
# Fixture apps must not leave __pycache__ folders in the repository.
export PYTHONDONTWRITEBYTECODE=1
# Every locked package, for every platform: a test reads their manifests offline (each one's
# declared rust-version).
cargo fetch --locked --quiet
cargo test --locked "$@"
