#!/usr/bin/env bash
# Builds a minimal local base image, shoal/node-base:<node version>, from the
# host's own Node.js binary. It exists for machines that can reach no container
# registry (so `FROM node:20-slim` cannot be pulled): the worker Dockerfile is
# then built with --build-arg BASE_IMAGE=shoal/node-base:<version>.
#
# The image holds only: the node binary (/usr/local/bin/node), every shared
# library `ldd` lists for it (at the same absolute paths, the dynamic loader
# included), minimal /etc files (passwd/group with `node` = 10001 and nobody,
# nsswitch.conf, CA certificates if the host has them) and an empty /tmp (1777).
# No shell, no npm, no package manager.
#
# Usage: make-local-base.sh [image-name]
#   default name: shoal/node-base:<version of the host's node>
#   env NODE_BIN=/path/to/node   use another node binary (default: command -v node)
#   env SHOAL_REBUILD_BASE=1     rebuild even if the image already exists
#   env SHOAL_BASE_NO_CERTS=1    do not copy the host's /etc/ssl/certs
# Idempotent: does nothing if the image already exists.
# The image name is the only thing written to stdout (logs go to stderr), so
# callers can do: base=$(bash infra/docker/make-local-base.sh)
set -euo pipefail
umask 022

log() { printf '[make-local-base] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker is not installed"
node_bin=${NODE_BIN:-$(command -v node || true)}
[ -n "$node_bin" ] || die "node is not on PATH (set NODE_BIN)"
node_bin=$(readlink -f "$node_bin")
[ -x "$node_bin" ] || die "$node_bin is not executable"

node_version=$("$node_bin" -p 'process.versions.node')
name=${1:-shoal/node-base:$node_version}

if [ "${SHOAL_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$name" >/dev/null 2>&1; then
  log "$name already exists, nothing to do"
  printf '%s\n' "$name"
  exit 0
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/shoal-node-base.XXXXXX")
trap 'rm -rf "$root"' EXIT

# --- node and its shared libraries -------------------------------------------
install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"

# ldd output lines look like:
#   linux-vdso.so.1 (0x...)                          -> kernel-provided, skip
#   libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)
#   /lib64/ld-linux-x86-64.so.2 (0x...)              -> the dynamic loader
#   libfoo.so => not found                           -> fatal
# A statically linked node prints "not a dynamic executable" (exit 1): no libs.
if ldd_out=$(ldd "$node_bin" 2>&1); then
  if grep -q 'not found' <<<"$ldd_out"; then
    die "ldd reports missing libraries for $node_bin:
$ldd_out"
  fi
  libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
  for lib in $libs; do
    # Keep the absolute path ldd printed (the loader must sit exactly at the
    # PT_INTERP path, e.g. /lib64/ld-linux-x86-64.so.2), but dereference
    # symlinks (-L): on merged-/usr hosts /lib and /lib64 are symlinks and
    # many .so names are symlinks to versioned files.
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
    log "  + $lib"
  done
elif grep -qi 'not a dynamic executable\|statically linked' <<<"$ldd_out"; then
  log "$node_bin is statically linked, no libraries to copy"
else
  die "ldd $node_bin failed: $ldd_out"
fi

# --- minimal /etc --------------------------------------------------------------
mkdir -p "$root/etc" "$root/home/node" "$root/root" "$root/dev" "$root/proc" "$root/sys"
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/usr/sbin/nologin
node:x:10001:10001:node:/home/node:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
node:x:10001:
nogroup:x:65534:
GROUP
# glibc >= 2.34 has the "files" and "dns" backends built in, so no libnss_*.so
# needs to be copied for these lines.
cat >"$root/etc/nsswitch.conf" <<'NSS'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
NSS
# Docker bind-mounts these at run time; empty placeholders keep the mount
# targets present even with a read-only root filesystem.
: >"$root/etc/hosts"; : >"$root/etc/resolv.conf"; : >"$root/etc/hostname"
if [ -d /etc/ssl/certs ] && [ "${SHOAL_BASE_NO_CERTS:-0}" != 1 ]; then
  # Entries are mostly symlinks into /usr/share/ca-certificates: dereference
  # (tar -h). The Java keystore is of no use here. Note this is the host's
  # trust store, locally added CAs included; Node.js only reads it with
  # --use-openssl-ca (it has its own bundled CA list). SHOAL_BASE_NO_CERTS=1
  # leaves it out.
  mkdir -p "$root/etc/ssl"
  tar -C /etc/ssl -ch --exclude=certs/java certs 2>/dev/null | tar -C "$root/etc/ssl" -x \
    || log "warning: some entries of /etc/ssl/certs could not be copied"
fi
printf 'shoal/node-base: node %s from %s, made %s\n' \
  "$node_version" "$node_bin" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$root/etc/shoal-node-base"

install -d -m 1777 "$root/tmp"

# --- import ----------------------------------------------------------------------
log "importing $name"
# Every file root-owned (whoever runs this); --sort=name for a stable layer.
tar -C "$root" --numeric-owner --owner=0 --group=0 --sort=name -c . |
  docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'LABEL org.shoal.image=node-base' \
    --change 'CMD ["node"]' \
    --message "shoal local node base ($node_version)" \
    - "$name" >/dev/null

# Smoke test: the loader and libraries resolve without ld.so.cache.
if ! out=$(docker run --rm --network none --user 10001:10001 "$name" node -p 'process.versions.node' 2>&1); then
  docker image rm "$name" >/dev/null 2>&1 || true
  die "the imported image does not run node: $out"
fi
[ "$out" = "$node_version" ] || log "warning: smoke test printed '$out', expected '$node_version'"
log "made $name ($(docker image inspect -f '{{.Size}}' "$name" | awk '{ printf "%.1f MB", $1 / 1e6 }'))"
printf '%s\n' "$name"
