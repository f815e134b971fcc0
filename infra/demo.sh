#!/usr/bin/env bash
# The main demo: start a pool of 3 workers (Docker containers where an engine
# answers, local processes otherwise), send 1000 requests through it, print the
# summary, send `quit`, and check that nothing of the pool is left running.
# Run it with `npm run demo` (which runs infra/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."

namespace=${SHOAL_NAMESPACE:-shoal-demo}
workers=${DEMO_WORKERS:-3}
spares=${DEMO_SPARES:-1}
export SHOAL_NAMESPACE=$namespace SHOAL_LOG_LEVEL=${SHOAL_LOG_LEVEL:-warn}

# A static pool (min = max) plus a warm spare, like the student system's V2 with its sleeping container.
node dist/dispatcher/main.js --runtime "${SHOAL_RUNTIME:-auto}" --min "$workers" --max "$workers" --spares "$spares" &
dispatcher=$!
# Whatever happens, never leave the pool behind.
trap 'kill -INT $dispatcher 2>/dev/null || true' EXIT

echo "demo: waiting for $workers workers and $spares spare(s) to consume from $namespace.requests"
# Ask the broker directly (a passive declare): the management API's figures lag by up to 5 s.
count_consumers() {
  node --input-type=module -e "
    import amqp from 'amqplib';
    const c = await amqp.connect(process.env.SHOAL_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
    const ch = await c.createChannel(); ch.on('error', () => {});
    const n = await ch.checkQueue('$namespace.requests').then((q) => q.consumerCount, () => 0);
    console.log(n); await c.close().catch(() => {});" 2>/dev/null || echo 0
}
consumers=0
for _ in $(seq 120); do
  consumers=$(count_consumers)
  [ "${consumers:-0}" -ge $((workers + spares)) ] && break
  kill -0 "$dispatcher" 2>/dev/null || { echo "demo: the dispatcher exited early" >&2; exit 1; }
  sleep 0.5
done
echo "demo: $consumers consumers; watch http://127.0.0.1:15672/#/queues (guest/guest)"
if docker info >/dev/null 2>&1; then
  docker ps --filter "label=org.shoal.pool=$namespace" --format 'demo: container {{.Names}}  {{.Status}}  ports: [{{.Ports}}]'
fi

status=0
node dist/producer/cli.js --count 1000 --concurrency 32 || status=$?

node dist/producer/quit.js
wait "$dispatcher" || status=$?
trap - EXIT
processes=$( (pgrep -f 'dist/worker/main.js' || true) | wc -l)
containers=0
if docker info >/dev/null 2>&1; then
  containers=$(docker ps -aq --filter "label=org.shoal.pool=$namespace" | wc -l)
fi
echo "demo: dispatcher exited; worker processes left: $processes, containers of the pool left: $containers"
exit "$status"
