#!/usr/bin/env bash
# Starts the local Redis that shoal's setup and tests use, in the background.
# It holds BullMQ's queue (--transport bullmq), so it persists every write
# before it answers: AOF with appendfsync always, under $SHOAL_REDIS_DIR
# (default /var/lib/shoal-redis). A restart then loses no confirmed request.
# No RDB snapshots: the AOF is the one copy. The chaos tests restart Redis
# with this same script (test/helpers/redis.ts), passing the directory the
# running server used, so that it reloads what it wrote.
set -euo pipefail
dir=${SHOAL_REDIS_DIR:-/var/lib/shoal-redis}
port=${SHOAL_REDIS_PORT:-6379}
mkdir -p "$dir"
exec redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
  --appendonly yes --appendfsync always --save ''
