#!/usr/bin/env bash
# The README's test command: set up everything on a fresh Debian 12 root machine, then
# lint, type-check and run the whole test suite (slow, toolchain and docker tests included).
#   CRUXFORGE_SKIP_SETUP=1   skip the installers (a machine already set up)
#   CRUXFORGE_NO_DOCKER=1    don't start Docker or build images (docker tests then skip, saying why)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false

if [ "${CRUXFORGE_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh
fi
if [ "${CRUXFORGE_NO_DOCKER:-0}" != 1 ]; then
    bash scripts/docker-engine.sh
    echo "== docker base images (air-gapped bootstrap) and runtime images"
    uv run cruxforge runtimes bootstrap-base
    uv run cruxforge runtimes build
fi

echo "== ruff"
uv run ruff check .
echo "== import direction (import-linter)"
uv run lint-imports
echo "== mypy"
uv run mypy
echo "== pytest"
uv run pytest -q "$@"
