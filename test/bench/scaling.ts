/**
 * Benchmark: the simulator's step and bursts traces against a real pool (the
 * dispatcher as a user runs it, with local worker processes), once per policy:
 * target-wait (the default) and the baselines queue-length and latency-threshold.
 * The traces are played BENCH_TIME_SCALE (4) times faster at the same rates,
 * and the scale-down window is shortened by the same factor, so each run takes
 * 30-60 s (step 32.5 s, bursts 45 s with 1.25 s bursts every 7.5 s). The
 * control interval and the observation windows are not shortened: a burst is
 * over about when the dispatcher has seen it. Every policy gets the same requests (seeded Poisson arrivals of
 * `sleep` jobs with exponential 50 ms service times), sent open loop.
 *
 * Per policy: p95 queue wait (publish to delivery, from each reply), the share
 * of requests over the 200 ms target, worker-seconds, scale events and the
 * largest pool (from the dispatcher's event log in Redis). The reference,
 * computed in the same run: the simulator's prediction for the same
 * compressed trace, policy and settings.
 * BENCH_RUNTIME=docker plays them on containers instead of local processes;
 * BENCH_GENERATED=1,2 adds generated traces (gen-1, gen-2 at BENCH_GENERATED_SCALE,
 * 0.5), and BENCH_TRACES=gen-1 plays only those named.
 * Not a test: prints a table, asserts nothing.
 * Run: npm run bench -- scaling
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { round } from './lib/stats.js';
import type { PolicyName } from '../../dispatcher/policy/index.js';
import { simulate } from '../../dispatcher/simulator/simulate.js';
import { generateTrace } from '../../dispatcher/simulator/generator.js';
import { burstsTrace, compressTrace, stepTrace, type Trace } from '../../dispatcher/simulator/traces.js';
import { defaultPolicyConfig } from '../../dispatcher/policy/index.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { RabbitRpcClient } from '../../infra/transport/rabbitmq/rpc-client.js';
import { AMQP_URL, consumerCount, newNamespace, waitFor } from '../helpers/broker.js';
import { killProcessPool, startDispatcher } from '../helpers/processes.js';
import { readEvents, readStatus } from '../helpers/status.js';
import { arrivalsOf, type Arrival } from './lib/arrivals.js';
import { accountPool } from './lib/pool-accounting.js';
import { knob, listKnob, silentLogger as logger, writeResults } from './lib/setup.js';
import { stopChild } from './lib/stop-child.js';

const TIME_SCALE = knob('BENCH_TIME_SCALE', 4);
const SEED = knob('BENCH_SEED', 1);
/** BENCH_POLICIES / BENCH_TRACES (comma-separated) run a part, e.g. BENCH_TRACES=step. */
const POLICIES = (['target-wait', 'queue-length', 'latency-threshold'] as PolicyName[]).filter((p) => listKnob('BENCH_POLICIES')?.includes(p) ?? true);
/** A trace as played here: `factor` times faster. */
interface Played {
  trace: Trace;
  factor: number;
  /** The scale-down window, shortened by the same factor. */
  scaleDownWindowMs: number;
}
const played = (original: Trace, factor: number): Played => ({
  trace: compressTrace(original, factor),
  factor,
  scaleDownWindowMs: Math.round(defaultPolicyConfig.scaleDownStabilizationMs / factor),
});
/** BENCH_GENERATED=1,2 adds generated traces gen-1 and gen-2 (dispatcher/simulator/generator.ts) at BENCH_GENERATED_SCALE (0.5: what this 2-core machine carries). */
const GENERATED = listKnob('BENCH_GENERATED')?.map(Number) ?? [];
const GENERATED_SCALE = knob('BENCH_GENERATED_SCALE', 0.5);
const TRACES: Played[] = [
  played(stepTrace(), TIME_SCALE),
  played(burstsTrace(), TIME_SCALE),
  ...GENERATED.map((seed) => played(generateTrace(seed, { scale: GENERATED_SCALE }), TIME_SCALE)),
].filter((p) => listKnob('BENCH_TRACES')?.includes(p.trace.name) ?? true);
/** BENCH_RUNTIME=docker plays them on a pool of containers (the worker image must be built: npm run image). */
const RUNTIME = process.env.BENCH_RUNTIME === 'docker' ? 'docker' : 'process';
const SERVICE_MS = 50;
const TARGET_MS = 200;
const POOL = { min: 1, max: 10, spares: 1, concurrency: 4, targetQueueLength: 5 };
/** A cold start as test/bench/capacity.ts measures it, for the simulator: a local process about 375 ms, a container about 450-650 ms. */
/** Containers that start together share this host's 2 cores: about a second more per other one starting (6 at once: 7.7 s). */
const START = RUNTIME === 'docker' ? { meanMs: 550, jitterMs: 150, perConcurrentMs: knob('BENCH_START_CROWD_MS', 1000) } : { meanMs: 400, jitterMs: 100 };

interface Measured {
  requests: number;
  failed: number;
  waitP95Ms: number;
  overTargetPct: number;
  workerSeconds: number;
  scaleEvents: number;
  maxWorkers: number;
  seconds: number;
  /** The machine's 1-minute load average at the end: other work on it makes the figures noisy. */
  loadAverage: number;
}

interface Row {
  trace: string;
  /** How much faster than the simulator's trace, and the run's length. */
  factor: number;
  seconds: number;
  scaleDownWindowMs: number;
  policy: PolicyName;
  real: Measured;
  simulated: Omit<Measured, 'failed' | 'seconds' | 'loadAverage'>;
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

/** Sends every arrival at its time, without waiting for replies (open loop); resolves with each request's queue wait. */
async function play(client: RabbitRpcClient, arrivals: readonly Arrival[]): Promise<{ waits: number[]; failed: number }> {
  const waits: number[] = [];
  let failed = 0;
  const calls: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < arrivals.length; ) {
    const now = performance.now() - started;
    for (; i < arrivals.length && arrivals[i]!.at <= now; i++) {
      calls.push(
        client.call('sleep', { ms: arrivals[i]!.serviceMs }, 60_000).then(
          (reply) => (reply.ok && reply.timings.queuedMs !== null ? void waits.push(reply.timings.queuedMs) : void failed++),
          () => void failed++,
        ),
      );
    }
    if (i < arrivals.length) await sleep(Math.max(1, Math.min(5, arrivals[i]!.at - now)));
  }
  await Promise.all(calls);
  return { waits, failed };
}

async function runReal({ trace, scaleDownWindowMs }: Played, policy: PolicyName, arrivals: readonly Arrival[]): Promise<Measured> {
  const namespace = newNamespace().replace('test-', 'bench-scale-');
  const { child } = startDispatcher([
    '--runtime', RUNTIME, '--policy', policy, '--min', String(POOL.min), '--max', String(POOL.max), '--spares', String(POOL.spares),
    '--worker-concurrency', String(POOL.concurrency), '--target-wait-p95', `${TARGET_MS}ms`, '--target-queue-length', String(POOL.targetQueueLength),
    '--scale-down-window', `${scaleDownWindowMs}ms`, '--metrics-port', '0', '--namespace', namespace,
  ], { SHOAL_LOG_LEVEL: 'warn' });
  let client: RabbitRpcClient | undefined;
  try {
    await waitFor('a worker and a spare consuming', async () => (await consumerCount(topologyFor(namespace))) === POOL.min + POOL.spares, 30_000);
    await waitFor('the first status with both reporting', async () => {
      const members = (await readStatus(namespace))?.members ?? [];
      return members.length === POOL.min + POOL.spares && members.every((m) => m.state === 'active');
    }, 30_000);
    client = await RabbitRpcClient.connect({ amqpUrl: AMQP_URL, topology: topologyFor(namespace), deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench scaling', logger });
    const from = Date.now();
    const { waits, failed } = await play(client, arrivals);
    // The trace's silent tail belongs to the run: the pool shrinks during it (as the simulator, the run ends at the trace's end or the last reply).
    await sleep(Math.max(0, from + trace.durationMs - Date.now()));
    const to = Date.now();
    const events = await readEvents(namespace);
    const pool = accountPool(events, from, to);
    if (process.env.BENCH_DEBUG) for (const e of events) process.stderr.write(`  t=${((e.at - from) / 1000).toFixed(1)} ${e.type} ${'reason' in e ? e.reason : 'workerId' in e ? e.workerId : ''}\n`);
    waits.sort((a, b) => a - b);
    return {
      requests: arrivals.length,
      failed,
      waitP95Ms: round(percentile(waits, 95), 0),
      overTargetPct: round((100 * waits.filter((w) => w > TARGET_MS).length) / Math.max(1, waits.length), 2),
      workerSeconds: round(pool.workerSeconds, 0),
      scaleEvents: pool.scaleEvents,
      maxWorkers: pool.maxWorkers,
      seconds: round((to - from) / 1000, 1),
      loadAverage: round(loadavg()[0]!, 1),
    };
  } finally {
    await client?.close();
    await stopChild(child); // drains and removes its workers
    await killProcessPool(child, namespace); // and what it left behind
  }
}

function runSimulated({ trace, scaleDownWindowMs }: Played, policy: PolicyName): Row['simulated'] {
  const r = simulate({
    trace,
    policyName: policy,
    seed: SEED,
    spares: POOL.spares,
    service: { meanMs: SERVICE_MS },
    startDelay: START,
    config: { min: POOL.min, max: POOL.max, concurrency: POOL.concurrency, targetWaitP95Ms: TARGET_MS, scaleDownStabilizationMs: scaleDownWindowMs, targetQueueLength: POOL.targetQueueLength },
  });
  return { requests: r.count, waitP95Ms: round(r.waitMs.p95, 0), overTargetPct: round(r.overTargetPct, 2), workerSeconds: round(r.workerSeconds, 0), scaleEvents: r.scaleEvents, maxWorkers: r.maxWorkers };
}

const rows: Row[] = [];
for (const p of TRACES) {
  const arrivals = arrivalsOf(p.trace, SERVICE_MS, SEED);
  for (const policy of POLICIES) {
    process.stderr.write(`scaling: ${p.trace.name} (${p.factor}x faster, ${round(p.trace.durationMs / 1000, 1)} s, ${arrivals.length} requests) with ${policy}\n`);
    const row = { trace: p.trace.name, factor: p.factor, seconds: p.trace.durationMs / 1000, scaleDownWindowMs: p.scaleDownWindowMs, policy };
    rows.push({ ...row, real: await runReal(p, policy, arrivals), simulated: runSimulated(p, policy) });
  }
}

const header = ['trace', 'policy', 'p95 wait', 'over target', 'worker-s', 'scale events', 'max workers', 'failed', 'load avg', '| simulator: p95 wait', 'over target', 'worker-s', 'scale events', 'max workers'];
const table = [
  header,
  ...rows.map((r) => [
    r.trace, r.policy, `${r.real.waitP95Ms} ms`, `${r.real.overTargetPct} %`, String(r.real.workerSeconds), String(r.real.scaleEvents), String(r.real.maxWorkers), String(r.real.failed), String(r.real.loadAverage),
    `| ${r.simulated.waitP95Ms} ms`, `${r.simulated.overTargetPct} %`, String(r.simulated.workerSeconds), String(r.simulated.scaleEvents), String(r.simulated.maxWorkers),
  ]),
];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
console.log(
  `scaling on a real pool (${RUNTIME === 'docker' ? 'Docker containers' : 'local processes'}; --min ${POOL.min} --max ${POOL.max} --spares ${POOL.spares}, ${POOL.concurrency} per worker, target p95 wait ${TARGET_MS} ms, ` +
    `queue-length ${POOL.targetQueueLength}/worker, seed ${SEED}); traces played faster at the same rates, the scale-down window shortened alike:`,
);
for (const p of TRACES) console.log(`  ${p.trace.name}: ${p.factor}x faster, ${p.trace.durationMs / 1000} s, scale-down window ${p.scaleDownWindowMs / 1000} s`);
for (const row of table) console.log(`  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`);
writeResults(
  `scaling${RUNTIME === 'docker' ? '-docker' : ''}${GENERATED.length > 0 ? '-generated' : ''}`,
  { benchmark: 'scaling on a real pool', runtime: RUNTIME, seed: SEED, serviceMs: SERVICE_MS, targetWaitP95Ms: TARGET_MS, pool: POOL, rows },
);
