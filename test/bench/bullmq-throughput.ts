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
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { compareKinds, formatRatios, formatRun, ratios, seededRandom, summarize, type RunResult } from './lib/compare.js';
import { bullmqFairCaller, driveReference, type LoadFigures } from './lib/reference-callers.js';
import type { WorkerSpec } from './lib/reference-workers.js';
import { WorkerHosts } from './lib/worker-hosts.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { connectCaller } from '../../infra/transport/index.js';
import { runLoad } from '../../producer/load.js';

const REDIS_URL = process.env.SHOAL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const COUNT = Number(process.env.BENCH_COUNT ?? 5_000);
const SEED = Number(process.env.BENCH_SEED ?? Date.now() % 100_000);
const CONCURRENCY = 100;
const WINDOW = 256;
const logger = pino({ level: 'silent' });

type Kind = 'shoal-bullmq' | 'bullmq-fair';
const KINDS: readonly Kind[] = ['shoal-bullmq', 'bullmq-fair'];
const LABELS: Record<Kind, string> = { 'shoal-bullmq': 'shoal', 'bullmq-fair': 'BullMQ' };

interface Scenario {
  name: string;
  workers: number;
  window: number;
  count: number;
}

async function produce(kind: Kind, namespace: string, s: Scenario): Promise<LoadFigures> {
  if (kind === 'shoal-bullmq') {
    const topology = topologyFor(namespace);
    const client = await connectCaller({ transport: 'bullmq', redisUrl: REDIS_URL, amqpUrl: 'amqp://unused', topology, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger });
    try {
      const summary = await runLoad(client, { count: s.count, concurrency: s.window, ratePerSec: undefined, job: 'echo', payload: 'x', timeoutMs: 60_000 });
      if (summary.ok !== s.count) throw new Error(`shoal run answered ${summary.ok} of ${s.count}`);
      return { perSecond: Math.round(summary.throughputPerSec), p50Ms: summary.latencyMs.p50, p99Ms: summary.latencyMs.p99 };
    } finally {
      await client.close();
    }
  }
  const caller = await bullmqFairCaller(REDIS_URL, namespace);
  try {
    return await driveReference(caller, s.count, s.window);
  } finally {
    await caller.close();
  }
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
    await hosts.start(specs);
    await hosts.markCpu();
    const before = process.cpuUsage();
    const figures = await produce(kind, namespace, s);
    const producer = process.cpuUsage(before);
    const workerMicros = await hosts.cpuMicros();
    await hosts.stop();
    return { ...figures, producerCpuUs: (producer.user + producer.system) / s.count, workerCpuUs: workerMicros / s.count };
  } finally {
    await removeKeys(redis, namespace);
  }
}

const scenarios: Scenario[] = [
  { name: `1 worker, ${WINDOW} in flight`, workers: 1, window: WINDOW, count: COUNT },
  { name: `2 workers, ${WINDOW} in flight`, workers: 2, window: WINDOW, count: COUNT },
  { name: 'sequential round trip, 1 in flight', workers: 1, window: 1, count: 1000 },
];
// BENCH_FILTER=<text> runs only the scenarios whose name contains it, BENCH_ONLY=<kind> one kind (for profiling).
const chosen = scenarios.filter((s) => s.name.includes(process.env.BENCH_FILTER ?? ''));
const only = process.env.BENCH_ONLY?.split(',');
const kinds = KINDS.filter((k) => !only || only.includes(k));

const redis = new Redis(REDIS_URL);
const hosts = new WorkerHosts(2);
const random = seededRandom(SEED);
console.log(`request path on BullMQ, echo jobs, worker concurrency ${CONCURRENCY}, ${REPEATS} repeats in shuffled order (seed ${SEED}), ${COUNT} requests each (1000 sequential); medians (min–max)`);
const results = [];
for (const s of chosen) {
  const warmUp = (kind: Kind) => runOnce(hosts, redis, kind, { ...s, count: Math.min(s.count, 500) });
  const compared = await compareKinds(kinds, REPEATS, random, (kind) => runOnce(hosts, redis, kind, s), warmUp);
  const summaries = Object.fromEntries(kinds.map((k) => [k, summarize(compared.runs[k])]));
  console.log(`  ${s.name}   (load average ${compared.loadAverage.join(' -> ')}; orders ${compared.orders.map((o) => o.map((k) => LABELS[k]).join('/')).join(', ')})`);
  for (const k of kinds) console.log(formatRun(LABELS[k], summaries[k]!));
  const versus = kinds.length === 2 ? ratios(compared.runs['shoal-bullmq'], compared.runs['bullmq-fair']) : undefined;
  if (versus) console.log(formatRatios('shoal / BullMQ', versus));
  results.push({ scenario: s.name, loadAverage: compared.loadAverage, orders: compared.orders, summaries, versus, runs: compared.runs });
}
await hosts.exit();
await redis.quit();
if (kinds.length === KINDS.length && chosen.length === scenarios.length) {
  writeFileSync(new URL('./results/bullmq-throughput.json', import.meta.url), `${JSON.stringify({ benchmark: 'request path on BullMQ', concurrency: CONCURRENCY, window: WINDOW, repeats: REPEATS, seed: SEED, results }, null, 2)}\n`);
}
