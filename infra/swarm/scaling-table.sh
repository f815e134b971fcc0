#!/usr/bin/env bash
# Prints the cluster-scale scaling table of infra/swarm/README.md: the default
# policy (target-wait, p95 queue wait <= 200 ms) in the simulator, at thousands
# of requests per second and hundreds of workers. Needs `npm run build`.
# Usage: infra/swarm/scaling-table.sh   (about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."

# 200 ms jobs, 4 per worker: 1000 req/s need 50 busy workers.
common=(--policy target-wait --service-ms 200 --max 1000 --json)
row() {
  local label=$1; shift
  node dist/dispatcher/simulator/cli.js "${common[@]}" "$@" 2>/dev/null | LABEL="$label" node -e '
    let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
      const { comparisons } = JSON.parse(text);
      for (const c of comparisons) for (const { result: r } of c.runs) {
        const peak = Math.max(...r.timeline.map((b) => b.arrivalsPerS));
        const cells = [process.env.LABEL, Math.round(peak).toLocaleString("en-US"), r.count.toLocaleString("en-US"),
          r.waitMs.p95.toFixed(0), r.waitMs.p99.toFixed(0), r.overTargetPct.toFixed(2),
          r.waitMs.p95 <= r.config.targetWaitP95Ms ? "**yes**" : "no", r.maxWorkers, r.meanWorkers.toFixed(0), Math.round(r.workerSeconds).toLocaleString("en-US")];
        console.log(`| ${cells.join(" | ")} |`);
      }
    });'
}

echo "| run | peak req/s | requests | p95 wait ms | p99 ms | over 200 ms % | met | max workers | mean workers | worker-s (spares included) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row "diurnal x20, local start 0.45 s" --trace diurnal --scale 20
row "diurnal x20, swarm start 2 s ± 1 s" --trace diurnal --scale 20 --preset swarm
row "diurnal x20, swarm, metrics every 5 s" --trace diurnal --scale 20 --preset swarm --metrics-interval 5s
row "diurnal x20, swarm, --max-step-down 10" --trace diurnal --scale 20 --preset swarm --max-step-down 10
row "diurnal x50, swarm" --trace diurnal --scale 50 --preset swarm
row "diurnal x50, swarm, --max-step-down 10" --trace diurnal --scale 50 --preset swarm --max-step-down 10
row "ramp 1000 -> 4000/s in 10 s, swarm" --trace csv:infra/swarm/traces/ramp.csv --preset swarm
row "ramp, swarm, metrics every 5 s" --trace csv:infra/swarm/traces/ramp.csv --preset swarm --metrics-interval 5s
row "ramp, swarm, --max-step-down 10" --trace csv:infra/swarm/traces/ramp.csv --preset swarm --max-step-down 10
row "bursts x20 (400 -> 6000/s at once), swarm" --trace bursts --scale 20 --preset swarm
row "bursts x20, swarm, 300 spares" --trace bursts --scale 20 --preset swarm --spares 300
row "step x20 (0 -> 4000/s at once), swarm" --trace step --scale 20 --preset swarm
row "step x20, swarm, 250 spares" --trace step --scale 20 --preset swarm --spares 250
