#!/usr/bin/env bash
# The README's main command: set up a fresh Debian 12 root machine, then build the demo
# release offline: the demo seeds are validated and typed, given agreement test cases,
# translated with the project's own reference translations (seeds/demo_reference) and
# validated by execution in every language with a runtime here, on Prefect's local engine
# and the batched engine over the `auto` sandbox backend (each language on the host's
# toolchain, in Docker where the host has none, e.g. Swift); the release goes to
# artifacts/demo/<version>/ and is then
# verified (every item re-run through the batched engine, manifest checked) and audited
# as published.
#   CRUXFORGE_SKIP_SETUP=1      skip the installers (a machine already set up)
#   CRUXFORGE_DEMO_LANGUAGES    languages to build (default: all)
#   CRUXFORGE_DEMO_BACKEND      batched (default: the batched engine over auto), auto, local
#                               or docker
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# Prefect's ephemeral server can take longer than its 20 s default to start on a busy host
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-300}"

if [ "${CRUXFORGE_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh
    # the languages with no toolchain on this host (Swift on Debian 12) run in Docker: make
    # the base images offline (debootstrap) and build only the images those languages need
    if bash scripts/docker-engine.sh; then
        uv run cruxforge runtimes bootstrap-base
        uv run cruxforge runtimes build --for-auto
    else
        echo "demo.sh: no Docker engine: languages without a host toolchain are skipped" >&2
    fi
fi
langs="${CRUXFORGE_DEMO_LANGUAGES:-all}"
backend="${CRUXFORGE_DEMO_BACKEND:-batched}"
version=1
out=artifacts/demo
rel="$out/$version"
mkdir -p "$out"
uv run cruxforge seeds check seeds/demo.jsonl --report "$out/seeds-report.json"
uv run cruxforge build --seeds seeds/demo.jsonl --languages "$langs" \
    --translator reference --references seeds/demo_reference \
    --backend "$backend" --release-name demo --version "$version"
uv run cruxforge release verify "$rel" --backend batched
uv run cruxforge audit --benchmark "$rel" --seeds "$rel/seeds.jsonl" \
    --backend "$backend" --out "$out/audit"
echo "demo release: $rel (items data/<lang>.jsonl, card README.md, manifest.json)"
echo "demo report:  $rel/report.jsonl   audit: $out/audit/report.md (records: audit.jsonl)"
