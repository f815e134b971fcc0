#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine: installs what is missing (Chromium
# too, for the browser tests, and python3-pika, for the protocol conformance
# test), starts RabbitMQ (with the management plugin), Redis and the Docker
# engine, waits until each one answers, then installs npm dependencies and builds.
# Safe to run again and again: every step checks before it acts.
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# wait_for "what" seconds command...: polls until the command succeeds.
wait_for() {
  local what=$1 seconds=$2; shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "ERROR: $what did not answer within ${seconds}s (tried: $*)"
  return 1
}

install_missing_packages() {
  local missing=()
  command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ "${SHOAL_SKIP_DOCKER:-0}" = 1 ] || command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  # Debian's Chromium, driven by playwright-core in the browser tests of the HTML report and live page.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # Debian's pika, for the Python client of the protocol conformance test (test/conformance/client.py).
  /usr/bin/python3 -c 'import pika' >/dev/null 2>&1 || missing+=(python3-pika)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} with apt-get"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

start_rabbitmq() {
  export PATH="$PATH:/usr/sbin:/usr/lib/rabbitmq/bin"
  if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached
  fi
  wait_for "RabbitMQ" 90 as_root rabbitmqctl -q await_startup
  # The management plugin gives the UI and the HTTP API the dispatcher samples.
  if ! as_root rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1; then
    log "enabling rabbitmq_management"
    as_root rabbitmq-plugins -q enable rabbitmq_management >/dev/null
  fi
  wait_for "RabbitMQ management API" 60 curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview
}

start_redis() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "starting Redis (AOF, appendfsync always, in ${SHOAL_REDIS_DIR:-/var/lib/shoal-redis})"
    as_root env SHOAL_REDIS_DIR="${SHOAL_REDIS_DIR:-/var/lib/shoal-redis}" bash infra/start-redis.sh >/dev/null
  fi
  wait_for "Redis" 30 sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
  persist_redis
}

# BullMQ's queue lives in Redis: a Redis already running without persistence
# (started by hand, or by an older setup) is switched to AOF with
# appendfsync always in place rather than restarted. Its directory cannot
# change while it runs (a protected config): the AOF goes where it already is.
persist_redis() {
  local cli=(redis-cli -h 127.0.0.1 -p 6379)
  if [ "$("${cli[@]}" config get appendonly | tail -n 1)" != yes ]; then
    log "Redis runs without persistence: CONFIG SET appendonly yes (AOF in $("${cli[@]}" config get dir | tail -n 1))"
    "${cli[@]}" config set appendonly yes >/dev/null
  fi
  if [ "$("${cli[@]}" config get appendfsync | tail -n 1)" != always ]; then
    log "Redis: CONFIG SET appendfsync always (a restart loses no confirmed request)"
    "${cli[@]}" config set appendfsync always >/dev/null
  fi
}

start_docker() {
  [ "${SHOAL_SKIP_DOCKER:-0}" = 1 ] && return 0
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/shoal-dockerd.log)"
    as_root sh -c 'nohup dockerd >/var/log/shoal-dockerd.log 2>&1 &'
  fi
  wait_for "Docker engine" 60 docker info
}

init_swarm() {
  [ "${SHOAL_SKIP_DOCKER:-0}" = 1 ] && return 0
  # --runtime swarm (and its tests) need a swarm manager; a single-node swarm on
  # loopback changes nothing for plain containers. Left alone when the engine
  # is already in a swarm (as a manager or a worker).
  local state
  state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown)
  if [ "$state" = inactive ]; then
    log "docker swarm init --advertise-addr 127.0.0.1 (a single-node swarm for --runtime swarm)"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  fi
}

install_node_modules() {
  # npm ci wipes node_modules, so only run it when the lockfile changed.
  local stamp=node_modules/.shoal-lock-stamp
  if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
  log "building"
  npm run --silent build
}

build_worker_image() {
  [ "${SHOAL_SKIP_DOCKER:-0}" = 1 ] && return 0
  # Skips itself when the image already holds this build.
  bash infra/docker/build-image.sh
}

# "services" starts the services only; the default also installs and builds.
install_missing_packages
start_rabbitmq
start_redis
start_docker
init_swarm
if [ "${1:-all}" != services ]; then
  install_node_modules
  build_worker_image
fi
log "ready: RabbitMQ 127.0.0.1:5672 (UI http://127.0.0.1:15672 guest/guest), Redis 127.0.0.1:6379"
