/**
 * Benchmark: the request path on the BullMQ transport (producer -> Redis ->
 * worker -> completion event) with `echo` jobs, shoal against a minimal raw
 * BullMQ RPC loop written as the reference (Queue.add, a Worker that echoes,
 * job.waitUntilFinished on one QueueEvents), with the same worker concurrency
 * and window, alternating runs in one process. Also the sequential round trip.
 * Not a test: prints medians and ratios, asserts nothing.
 * Run: npm run bench (or: npx tsx test/bench/bullmq-throughput.ts)
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Queue, QueueEvents, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { latencyHistogram, median, round } from './lib/stats.js';
import { topologyFor } from '../../infra/protocol.js';
import { bullConnection } from '../../infra/transport/bullmq/connection.js';
import { connectCaller } from '../../infra/transport/index.js';
import { runLoad } from '../../producer/load.js';
import { builtinJobs } from '../../worker/jobs.js';
import { Worker } from '../../worker/worker.js';

const REDIS_URL = process.env.SHOAL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const COUNT = Number(process.env.BENCH_COUNT ?? 5_000);
const CONCURRENCY = 100;
const WINDOW = 256;
const logger = pino({ level: 'silent' });

interface RunResult {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** shoal on BullMQ: in-process Workers and the BullMQ RPC client, driven by the producer's load runner. */
async function shoalRun(namespace: string, workers: number, window: number, count: number): Promise<RunResult> {
  const topology = topologyFor(namespace);
  const pool = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      new Worker({ workerId: `bench-${i}`, amqpUrl: 'amqp://unused', topology, deliveryLimit: 5, concurrency: CONCURRENCY, maxBodyBytes: 1 << 20, role: 'worker', handlers: builtinJobs, logger, transport: 'bullmq', redisUrl: REDIS_URL }),
    ).map(async (w) => (await w.start(), w)),
  );
  const client = await connectCaller({ transport: 'bullmq', redisUrl: REDIS_URL, amqpUrl: 'amqp://unused', topology, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger });
  const summary = await runLoad(client, { count, concurrency: window, ratePerSec: undefined, job: 'echo', payload: 'x', timeoutMs: 60_000 });
  await client.close();
  await Promise.all(pool.map((w) => w.close()));
  if (summary.ok !== count) throw new Error(`shoal run answered ${summary.ok} of ${count}`);
  return { perSecond: summary.throughputPerSec, p50Ms: summary.latencyMs.p50, p99Ms: summary.latencyMs.p99 };
}

/** The reference: what a careful person writes with BullMQ alone (no validation, no reports, default job options). */
async function rawRun(namespace: string, workers: number, window: number, count: number): Promise<RunResult> {
  const prefix = `${namespace}:raw`;
  const connection = bullConnection(REDIS_URL, 'raw bench');
  const pool = Array.from({ length: workers }, () => new BullWorker('echo', async (job) => job.data as unknown, { connection, prefix, concurrency: CONCURRENCY }));
  await Promise.all(pool.map((w) => w.waitUntilReady()));
  const queue = new Queue('echo', { connection, prefix });
  const events = new QueueEvents('echo', { connection, prefix });
  events.setMaxListeners(0);
  queue.setMaxListeners(0); // waitUntilFinished adds a 'closing' listener per job in flight
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const h = latencyHistogram();
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      const job = await queue.add('echo', { job: 'echo', payload: 'x' });
      await job.waitUntilFinished(events).catch(() => failed++);
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const seconds = (performance.now() - started) / 1000;
  await events.close();
  await queue.close();
  await Promise.all(pool.map((w) => w.close()));
  if (failed > 0) throw new Error(`raw run: ${failed} of ${count} failed`);
  return { perSecond: Math.round(count / seconds), p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000 };
}

async function removeKeys(redis: Redis, namespace: string): Promise<void> {
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

const round3 = (n: number) => round(n, 3);

const redis = new Redis(REDIS_URL);
const scenarios = [
  { name: `1 worker, ${WINDOW} in flight`, workers: 1, window: WINDOW, count: COUNT },
  { name: `2 workers, ${WINDOW} in flight`, workers: 2, window: WINDOW, count: COUNT },
  { name: 'sequential round trip, 1 in flight', workers: 1, window: 1, count: 1000 },
];
const results = [];
for (const scenario of scenarios) {
  const runs = { shoal: [] as RunResult[], raw: [] as RunResult[] };
  for (let i = 0; i < REPEATS; i++) {
    for (const kind of ['shoal', 'raw'] as const) {
      const namespace = `bench-${randomUUID().slice(0, 8)}`;
      try {
        runs[kind].push(await (kind === 'shoal' ? shoalRun : rawRun)(namespace, scenario.workers, scenario.window, scenario.count));
      } finally {
        await removeKeys(redis, namespace);
      }
    }
  }
  const summary = (rs: RunResult[]) => ({ perSecond: median(rs.map((r) => r.perSecond)), p50Ms: round3(median(rs.map((r) => r.p50Ms))), p99Ms: round3(median(rs.map((r) => r.p99Ms))) });
  const shoal = summary(runs.shoal);
  const raw = summary(runs.raw);
  results.push({ scenario: scenario.name, shoal, raw, throughputRatio: round3(shoal.perSecond / raw.perSecond), extraP50Ms: round3(shoal.p50Ms - raw.p50Ms) });
}
await redis.quit();

console.log(`request path on BullMQ, echo jobs, worker concurrency ${CONCURRENCY}, median of ${REPEATS} alternating runs (${COUNT} requests each; 1000 sequential):`);
for (const r of results) {
  console.log(`  ${r.scenario}`);
  console.log(`    shoal       ${String(r.shoal.perSecond).padStart(6)} req/s  p50 ${r.shoal.p50Ms} ms  p99 ${r.shoal.p99Ms} ms`);
  console.log(`    raw BullMQ  ${String(r.raw.perSecond).padStart(6)} req/s  p50 ${r.raw.p50Ms} ms  p99 ${r.raw.p99Ms} ms   (reference)`);
  console.log(`    shoal/raw throughput ${r.throughputRatio}x; shoal's extra p50 ${r.extraP50Ms} ms`);
}
writeFileSync(new URL('./results/bullmq-throughput.json', import.meta.url), `${JSON.stringify({ benchmark: 'request path on BullMQ', concurrency: CONCURRENCY, window: WINDOW, repeats: REPEATS, results }, null, 2)}\n`);
