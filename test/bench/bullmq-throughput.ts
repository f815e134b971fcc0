/**
 * Benchmark: the request path on the BullMQ transport (producer -> Redis ->
 * worker -> completion event) with `echo` jobs, shoal against BullMQ used as
 * its authors recommend for request/reply (lib/reference-callers.ts: one
 * shared QueueEvents reader, completed jobs removed as shoal removes them),
 * with the same worker concurrency and window. Also the sequential round
 * trip. The producer runs in this process, each worker in its own
 * (lib/worker-host.ts), and each side's CPU per request is measured. The
 * kinds run in a new shuffled order every repeat; figures are medians with
 * their range, ratios are taken run by run within a repeat.
 * Not a test: prints figures and ratios, asserts nothing.
 * Run: npm run bench (or: npx tsx test/bench/bullmq-throughput.ts)
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { seededRandom, type RunResult } from './lib/compare.js';
import { bullmqFairCaller, type LoadFigures } from './lib/reference-callers.js';
import type { WorkerSpec } from './lib/reference-workers.js';
import { chooseRuns, compareScenarios, measureRun, referenceLoad, shoalLoad, type Scenario } from './lib/request-path.js';
import { benchSeed, knob, REDIS_URL, silentLogger, writeResults } from './lib/setup.js';
import { WorkerHosts } from './lib/worker-hosts.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { connectCaller } from '../../infra/transport/factory.js';

const REPEATS = knob('BENCH_REPEATS', 5);
const COUNT = knob('BENCH_COUNT', 5_000);
const SEED = benchSeed();
const CONCURRENCY = 100;
const WINDOW = 256;

type Kind = 'shoal-bullmq' | 'bullmq-fair';
const KINDS: readonly Kind[] = ['shoal-bullmq', 'bullmq-fair'];
const LABELS: Record<Kind, string> = { 'shoal-bullmq': 'shoal', 'bullmq-fair': 'BullMQ' };

async function produce(kind: Kind, namespace: string, s: Scenario): Promise<LoadFigures> {
  if (kind === 'shoal-bullmq') {
    const topology = topologyFor(namespace);
    return shoalLoad(await connectCaller({ transport: 'bullmq', redisUrl: REDIS_URL, amqpUrl: 'amqp://unused', topology, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger: silentLogger }), s);
  }
  return referenceLoad(await bullmqFairCaller(REDIS_URL, namespace), s);
}

async function removeKeys(redis: Redis, namespace: string): Promise<void> {
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

async function runOnce(hosts: WorkerHosts, redis: Redis, kind: Kind, s: Scenario): Promise<RunResult> {
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const specs: WorkerSpec[] = Array.from({ length: s.workers }, (_, i) => ({
    kind, workerId: `bench-${i}`, amqpUrl: 'amqp://unused', redisUrl: REDIS_URL, namespace, queueType: 'quorum', concurrency: CONCURRENCY,
  }));
  try {
    return await measureRun(hosts, specs, s.count, () => produce(kind, namespace, s));
  } finally {
    await removeKeys(redis, namespace);
  }
}

const scenarios: Scenario[] = [
  { name: `1 worker, ${WINDOW} in flight`, workers: 1, window: WINDOW, count: COUNT },
  { name: `2 workers, ${WINDOW} in flight`, workers: 2, window: WINDOW, count: COUNT },
  { name: 'sequential round trip, 1 in flight', workers: 1, window: 1, count: 1000 },
];
const chosen = chooseRuns(scenarios, KINDS);

const redis = new Redis(REDIS_URL);
const hosts = new WorkerHosts(2);
console.log(`request path on BullMQ, echo jobs, worker concurrency ${CONCURRENCY}, ${REPEATS} repeats in shuffled order (seed ${SEED}), ${COUNT} requests each (1000 sequential); medians (min–max)`);
const compared = await compareScenarios(chosen.scenarios, {
  kinds: chosen.kinds,
  baseline: 'shoal-bullmq',
  labels: LABELS,
  repeats: REPEATS,
  random: seededRandom(SEED),
  warmUpCount: 500,
  run: (kind, s) => runOnce(hosts, redis, kind, s),
});
await hosts.exit();
await redis.quit();
// One reference: its ratios are the scenario's `versus`.
const results = compared.map((r) => ({ ...r, versus: r.versus['bullmq-fair'] }));
if (chosen.complete) writeResults('bullmq-throughput', { benchmark: 'request path on BullMQ', concurrency: CONCURRENCY, window: WINDOW, repeats: REPEATS, seed: SEED, results });
