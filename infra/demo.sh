#!/usr/bin/env bash
# The main demo: start a pool of 3 workers, send 1000 requests through it,
# print the summary, send `quit`, and check that nothing is left running.
# Run it with `npm run demo` (which runs infra/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."

namespace=${SHOAL_NAMESPACE:-shoal-demo}
workers=${DEMO_WORKERS:-3}
export SHOAL_NAMESPACE=$namespace SHOAL_LOG_LEVEL=${SHOAL_LOG_LEVEL:-warn}

node dist/dispatcher/main.js --min "$workers" --max "$workers" &
dispatcher=$!
# Whatever happens, never leave the pool behind.
trap 'kill -INT $dispatcher 2>/dev/null || true' EXIT

echo "demo: waiting for $workers workers to consume from $namespace.requests"
for _ in $(seq 60); do
  consumers=$(curl -fsS -u guest:guest "http://127.0.0.1:15672/api/queues/%2F/$namespace.requests" 2>/dev/null \
    | grep -o '"consumers":[0-9]*' | cut -d: -f2 || true)
  [ "${consumers:-0}" -ge "$workers" ] && break
  sleep 0.5
done
echo "demo: $consumers workers consuming; watch http://127.0.0.1:15672/#/queues (guest/guest)"

status=0
node dist/producer/cli.js --count 1000 --concurrency 32 || status=$?

node dist/producer/quit.js
wait "$dispatcher" || status=$?
trap - EXIT
left=$( (pgrep -f 'dist/worker/main.js' || true) | wc -l)
echo "demo: dispatcher exited; worker processes left: $left"
exit "$status"
