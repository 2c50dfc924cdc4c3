#!/usr/bin/env bash
# The README's main command: set up a fresh Debian 12 root machine, then run the demo job:
# validate and type the demo seeds, render them with the project's demo reference
# translations as a CRUXEval-X-format benchmark, and audit it: every item under
# cruxforge's own rule-made harness and as published, in every language with a runtime here.
#   CRUXFORGE_SKIP_SETUP=1   skip the installers (a machine already set up)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false

if [ "${CRUXFORGE_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh
fi
out=artifacts/demo
mkdir -p "$out"
uv run cruxforge seeds check seeds/demo.jsonl --report "$out/seeds-report.json"
uv run cruxforge export --seeds seeds/demo.jsonl --references seeds/demo_reference \
    --out "$out/benchmark"
uv run cruxforge audit --benchmark "$out/benchmark" --seeds seeds/demo.jsonl \
    --backend local --out "$out/audit"
echo "demo: seed report $out/seeds-report.json; benchmark $out/benchmark/<lang>.jsonl;" \
    "audit $out/audit/audit.jsonl"
