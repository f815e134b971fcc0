#!/usr/bin/env bash
# Builds the shoal worker image.
#
# Usage: infra/docker/build-image.sh [tag]   (default: $SHOAL_WORKER_IMAGE, else shoal/worker:latest)
#
# Steps:
#   1. requires dist/worker/main.js (run `npm run build` first);
#   2. stages a clean build context in a temp dir: the worker's dist/ folders, a
#      package.json cut down to the worker's dependencies (package.json's
#      "workerImage"), package-lock.json, and those dependencies installed at the
#      locked versions (npm install --omit=dev --ignore-scripts, on the host);
#   3. picks the base image: node:20-slim if it is present or can be pulled
#      within 20 s; otherwise (no registry reachable) a local base made from the
#      host's own Node.js by make-local-base.sh (shoal/node-base:<version>);
#   4. docker build, prints the image size, removes the staging dir.
#
# Environment:
#   SHOAL_BASE_IMAGE=<image>  force the base image (no pull attempt);
#                             SHOAL_BASE_IMAGE=local forces the local host-node base.
#   DOCKER_BUILDKIT           respected if set; otherwise set to 0 (legacy
#                             builder) when the buildx plugin is missing.
set -euo pipefail
umask 022

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:-${SHOAL_WORKER_IMAGE:-shoal/worker:latest}}
default_base=node:20-slim

cd "$repo"
[ -f dist/worker/main.js ] || die "dist/worker/main.js not found in $repo: run 'npm run build' first"
[ -f package.json ] || die "package.json not found in $repo"
[ -f package-lock.json ] || die "package-lock.json not found in $repo (npm ci needs it)"
command -v npm >/dev/null 2>&1 || die "npm is not installed on this host"
command -v docker >/dev/null 2>&1 || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (is dockerd running? are you in the docker group?)"

# Skip the build when the image already holds exactly this dist/, lockfile and Dockerfile.
content_hash=$( (cd "$repo" && find dist -type f ! -name '*.tsbuildinfo' -print0 | sort -z | xargs -0 sha256sum; \
  sha256sum package.json package-lock.json "$here/Dockerfile") | sha256sum | cut -c1-16)
if [ "${SHOAL_FORCE_BUILD:-0}" != 1 ] && \
   [ "$(docker image inspect -f '{{index .Config.Labels "org.shoal.content-hash"}}' "$tag" 2>/dev/null)" = "$content_hash" ]; then
  log "$tag is up to date (content $content_hash); SHOAL_FORCE_BUILD=1 rebuilds"
  exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/shoal-worker-ctx.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# --- 1. staging context ----------------------------------------------------------
# Only what the worker runs: the dist/ folders and dependencies that package.json's
# "workerImage" names, at the versions package-lock.json pins.
log "staging build context in $stage"
mapfile -t dist_dirs < <(node -p 'require("./package.json").workerImage.dist.join("\n")')
mkdir -p "$stage/dist"
for dir in "${dist_dirs[@]}"; do
  tar -C "$repo/dist" --exclude='*.tsbuildinfo' --exclude='runtime' -c "$dir" | tar -C "$stage/dist" -x
done
cp package-lock.json "$stage/"
node -e '
  const pkg = require("./package.json");
  const keep = new Set(pkg.workerImage.dependencies);
  const dependencies = Object.fromEntries(Object.entries(pkg.dependencies).filter(([name]) => keep.has(name)));
  const missing = [...keep].filter((name) => !(name in dependencies));
  if (missing.length) { console.error("workerImage names dependencies package.json lacks: " + missing.join(", ")); process.exit(1); }
  const { name, version, type } = pkg;
  require("fs").writeFileSync(process.argv[1] + "/package.json", JSON.stringify({ name, version, type, private: true, dependencies }, null, 2));
' "$stage"
# A project .npmrc may carry the registry to use; it is removed again below so
# it can never end up in the image.
[ -f "$repo/.npmrc" ] && cp "$repo/.npmrc" "$stage/.npmrc"
log "installing the worker's production dependencies (npm install --omit=dev --ignore-scripts, lockfile versions)"
(cd "$stage" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=warn >&2) \
  || die "npm install --omit=dev failed in the staging dir"
rm -f "$stage/.npmrc" "$stage/node_modules/.package-lock.json"
cp "$here/Dockerfile" "$stage/Dockerfile"
# The worker runs as uid 10001 and files are owned by root in the image:
# everything must be world-readable (and directories traversable), nothing writable.
chmod -R a+rX,go-w "$stage"

# --- 2. base image ------------------------------------------------------------------
node_version=$(node -p 'process.versions.node' 2>/dev/null || true)
use_local_base() {
  [ -n "$node_version" ] || die "no node on this host to make a local base image from"
  base=$(bash "$here/make-local-base.sh")
}
if [ "${SHOAL_BASE_IMAGE:-}" = local ]; then
  use_local_base
elif [ -n "${SHOAL_BASE_IMAGE:-}" ]; then
  base=$SHOAL_BASE_IMAGE
elif docker image inspect "$default_base" >/dev/null 2>&1; then
  base=$default_base
elif log "pulling $default_base (20 s limit)" && timeout 20 docker pull -q "$default_base" >/dev/null 2>&1; then
  base=$default_base
else
  log "registry unreachable: cannot get $default_base; falling back to a local base made from the host's Node.js ($node_version)"
  use_local_base
fi
log "base image: $base"

# --- 3. build -------------------------------------------------------------------------
# docker.io (Debian) ships no buildx plugin; recent CLIs then refuse
# `docker build` unless the legacy builder is chosen explicitly.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
  log "docker buildx not available: using the legacy builder (DOCKER_BUILDKIT=0)"
fi
version=$(node -p 'require("./package.json").version' 2>/dev/null || echo unknown)
log "building $tag"
docker build \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "SHOAL_VERSION=$version" \
  --build-arg "CONTENT_HASH=$content_hash" \
  -t "$tag" "$stage" >&2

size=$(docker image inspect -f '{{.Size}}' "$tag")
log "built $tag from $base: $(awk -v s="$size" 'BEGIN { printf "%.1f MB (%d bytes)", s / 1e6, s }')"
