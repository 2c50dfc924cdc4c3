#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine; idempotent.
#
#   1. install docker.io (+ debootstrap, used by `cruxforge runtimes bootstrap-base`)
#      from Debian if missing;
#   2. start dockerd in the background (log: /var/log/dockerd.log) unless one answers;
#   3. wait, bounded, until `docker info` answers.
#
# Needs root for steps 1-2. Exit status: 0 when the engine answers, 1 otherwise.
# Env: DOCKER_ENGINE_WAIT (seconds to wait for the engine, default 60).
set -euo pipefail

wait_s="${DOCKER_ENGINE_WAIT:-60}"
log=/var/log/dockerd.log

say() { echo "docker-engine: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1 \
    || ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        say "docker.io / debootstrap missing and not root: install them first"
        exit 1
    fi
    say "installing docker.io and debootstrap from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if engine_up; then
    say "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        say "dockerd not running and not root: start it (as root: dockerd &)"
        exit 1
    fi
    # containerd is started by dockerd itself when no system containerd runs
    say "starting dockerd (log: $log)"
    nohup dockerd >>"$log" 2>&1 </dev/null &
    disown || true
fi

for _ in $(seq 1 "$wait_s"); do
    if engine_up; then
        say "engine up ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        exit 0
    fi
    sleep 1
done
say "engine did not answer within ${wait_s}s; last log lines:"
tail -n 20 "$log" >&2 || true
exit 1
