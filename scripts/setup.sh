#!/usr/bin/env bash
# Idempotent installer for a fresh Debian 12 (bookworm) root machine: every host toolchain
# the `local` sandbox backend needs, the pinned TypeScript toolchain, uv and the project's
# Python environment, then (if present) the Docker engine starter. Safe to run twice.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NPM_PREFIX="${CRUXFORGE_NPM_PREFIX:-/opt/cruxforge/npm}"
TYPESCRIPT_VERSION="5.9.3"
TYPES_NODE_VERSION="20.19.43"

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

echo "== Debian packages"
# the sandboxes and tools of the project itself ...
PKGS=(
    ca-certificates curl git locales
    bubblewrap debootstrap docker.io
    python3 python3-pip python3-venv
    chromium  # the UI test drives it headless (Playwright, no browser download)
)
# ... and every language's host toolchain, as its runtime spec lists it
# (runtimes/<lang>/runtime.toml, [local] debian): a new language brings its own packages
mapfile -t LANG_PKGS < <(python3 "$REPO/scripts/packages.py")
if [ "${#LANG_PKGS[@]}" -eq 0 ]; then
    echo "setup.sh: no packages read from the runtime specs (scripts/packages.py)" >&2
    exit 1
fi
PKGS+=("${LANG_PKGS[@]}")
# Debian's nodejs needs the separate npm package; a NodeSource nodejs already ships npm
# (and conflicts with Debian's npm), so add it only when npm is missing.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
apt-get update
apt-get install -y --no-install-recommends "${PKGS[@]}"

echo "== UTF-8 locale"
# C.UTF-8 ships with libc; en_US.UTF-8 is generated for tools that insist on it.
if ! locale -a 2>/dev/null | grep -qi '^en_US\.utf-\?8$'; then
    sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
    locale-gen
fi

echo "== Rust (rustup toolchain under /root/.cargo; not in Debian at the needed version)"
if ! command -v rustc >/dev/null 2>&1 && [ ! -x /root/.cargo/bin/rustc ]; then
    echo "setup.sh: rustc not found; install rustup (https://rustup.rs) for the 'rs' runtime," \
        "or use the docker backend" >&2
fi

echo "== TypeScript $TYPESCRIPT_VERSION + @types/node $TYPES_NODE_VERSION into $NPM_PREFIX"
want_ts() {
    [ -x "$NPM_PREFIX/node_modules/.bin/tsc" ] &&
        [ "$("$NPM_PREFIX/node_modules/.bin/tsc" --version 2>/dev/null)" = "Version $TYPESCRIPT_VERSION" ] &&
        [ -f "$NPM_PREFIX/node_modules/@types/node/package.json" ] &&
        grep -q "\"version\": \"$TYPES_NODE_VERSION\"" "$NPM_PREFIX/node_modules/@types/node/package.json"
}
if ! want_ts; then
    mkdir -p "$NPM_PREFIX"
    [ -f "$NPM_PREFIX/package.json" ] || echo '{"name": "cruxforge-npm", "private": true}' >"$NPM_PREFIX/package.json"
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --save-exact \
        "typescript@$TYPESCRIPT_VERSION" "@types/node@$TYPES_NODE_VERSION"
fi
"$NPM_PREFIX/node_modules/.bin/tsc" --version

echo "== uv + Python environment"
if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --break-system-packages uv || python3 -m pip install uv
fi
(cd "$REPO" && uv sync)

if [ -f "$REPO/scripts/docker-engine.sh" ]; then
    echo "== Docker engine"
    bash "$REPO/scripts/docker-engine.sh"
fi

echo "== done; check with: uv run cruxforge runtimes doctor"
