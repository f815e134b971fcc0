/**
 * Benchmark: the full request path (producer -> queue -> worker -> reply) with
 * `echo` jobs, shoal against a minimal raw-amqplib RPC loop written as the
 * reference, on the same queue type (classic and quorum), prefetch and window,
 * alternating runs in one process. Also the sequential round trip (one
 * request in flight). Besides wall-clock figures it prints the CPU time this
 * process spent per request, which other load on the machine disturbs less.
 * Not a test: prints medians and ratios, asserts nothing.
 * Run: npm run bench
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { latencyHistogram, median, round } from './lib/stats.js';
import { assertTopology, deleteTopology } from '../../infra/amqp/topology.js';
import { topologyFor, type Topology } from '../../infra/protocol.js';
import { runLoad } from '../../producer/load.js';
import { RpcClient } from '../../infra/transport/rabbitmq/rpc-client.js';
import { builtinJobs } from '../../worker/jobs.js';
import { Worker } from '../../worker/worker.js';

const AMQP_URL = process.env.SHOAL_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const PREFETCH = 100;
const WINDOW = 256;
const logger = pino({ level: 'silent' });

type QueueType = 'quorum' | 'classic';

interface RunResult {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process (producer and workers) per request. */
  cpuMicrosPerRequest: number;
}

/** Runs one load and adds the CPU this process spent on it. */
async function measured(count: number, run: () => Promise<Omit<RunResult, 'cpuMicrosPerRequest'>>): Promise<RunResult> {
  const before = process.cpuUsage();
  const result = await run();
  const cpu = process.cpuUsage(before);
  return { ...result, cpuMicrosPerRequest: Math.round((cpu.user + cpu.system) / count) };
}

/** shoal: in-process Workers (prefetch = concurrency) and the RpcClient, driven by the producer's load runner. */
async function shoalRun(topology: Topology, queueType: QueueType, workers: number, window: number, count: number): Promise<RunResult> {
  const pool = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      new Worker({ workerId: `bench-${i}`, amqpUrl: AMQP_URL, topology, queueType, deliveryLimit: 5, concurrency: PREFETCH, maxBodyBytes: 1 << 20, role: 'worker', handlers: builtinJobs, logger }),
    ).map(async (w) => (await w.start(), w)),
  );
  const client = await RpcClient.connect({ amqpUrl: AMQP_URL, topology, queueType, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger });
  const result = await measured(count, async () => {
    const summary = await runLoad(client, { count, concurrency: window, ratePerSec: undefined, job: 'echo', payload: 'x', timeoutMs: 60_000 });
    if (summary.ok !== count) throw new Error(`shoal run answered ${summary.ok} of ${count}`);
    return { perSecond: summary.throughputPerSec, p50Ms: summary.latencyMs.p50, p99Ms: summary.latencyMs.p99 };
  });
  await client.close();
  await Promise.all(pool.map((w) => w.close()));
  return result;
}

/** The reference: what a careful person writes with amqplib alone (direct reply-to, prefetch, no confirms, no validation). */
async function rawRun(topology: Topology, workers: number, window: number, count: number): Promise<RunResult> {
  const connections: ChannelModel[] = [];
  for (let i = 0; i < workers; i++) {
    const conn = await amqp.connect(AMQP_URL, { noDelay: true });
    connections.push(conn);
    const ch: Channel = await conn.createChannel();
    await ch.prefetch(PREFETCH);
    await ch.consume(topology.requestQueue, (msg) => {
      if (!msg) return;
      ch.publish('', msg.properties.replyTo as string, msg.content, { correlationId: msg.properties.correlationId as string });
      ch.ack(msg);
    });
  }
  const conn = await amqp.connect(AMQP_URL, { noDelay: true });
  connections.push(conn);
  const ch = await conn.createChannel();
  const waiting = new Map<string, () => void>();
  await ch.consume('amq.rabbitmq.reply-to', (msg) => msg && waiting.get(msg.properties.correlationId as string)?.(), { noAck: true });
  const h = latencyHistogram();
  const body = Buffer.from(JSON.stringify({ job: 'echo', payload: 'x' }));
  let next = 0;
  const before = process.cpuUsage();
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      next++;
      const id = randomUUID();
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        ch.publish('', topology.requestQueue, body, { correlationId: id, replyTo: 'amq.rabbitmq.reply-to' });
      });
      waiting.delete(id);
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(before);
  for (const c of connections) await c.close();
  return {
    perSecond: Math.round(count / seconds),
    p50Ms: h.getValueAtPercentile(50) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000,
    cpuMicrosPerRequest: Math.round((cpu.user + cpu.system) / count),
  };
}

const round3 = (n: number) => round(n, 3);

const admin = await amqp.connect(AMQP_URL);
const adminChannel = await admin.createChannel();
const queueTypes: QueueType[] = ['classic', 'quorum'];
const scenarios = queueTypes.flatMap((queueType) => [
  { name: `${queueType} queue, 1 worker, ${WINDOW} in flight`, queueType, workers: 1, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, 2 workers, ${WINDOW} in flight`, queueType, workers: 2, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, sequential round trip, 1 in flight`, queueType, workers: 1, window: 1, count: 2000 },
]);
// BENCH_FILTER=<text> runs only the scenarios whose name contains it, BENCH_ONLY=shoal|raw one side (for profiling).
const chosen = scenarios.filter((s) => s.name.includes(process.env.BENCH_FILTER ?? ''));
const kinds = (['shoal', 'raw'] as const).filter((k) => (process.env.BENCH_ONLY ?? k) === k);
const results = [];
for (const scenario of chosen) {
  const runs = { shoal: [] as RunResult[], raw: [] as RunResult[] };
  for (let i = 0; i < REPEATS; i++) {
    for (const kind of kinds) {
      const topology = topologyFor(`bench-${randomUUID().slice(0, 8)}`);
      await assertTopology(adminChannel, topology, { deliveryLimit: 5, queueType: scenario.queueType });
      const { queueType, workers, window, count } = scenario;
      runs[kind].push(kind === 'shoal' ? await shoalRun(topology, queueType, workers, window, count) : await rawRun(topology, workers, window, count));
      await deleteTopology(adminChannel, topology);
    }
  }
  const summary = (rs: RunResult[]) => ({
    perSecond: median(rs.map((r) => r.perSecond)),
    p50Ms: round3(median(rs.map((r) => r.p50Ms))),
    p99Ms: round3(median(rs.map((r) => r.p99Ms))),
    cpuMicrosPerRequest: median(rs.map((r) => r.cpuMicrosPerRequest)),
  });
  if (kinds.length < 2) {
    console.log(scenario.name, JSON.stringify(runs));
    continue;
  }
  const shoal = summary(runs.shoal);
  const raw = summary(runs.raw);
  results.push({ scenario: scenario.name, shoal, raw, throughputRatio: round3(shoal.perSecond / raw.perSecond), cpuRatio: round3(shoal.cpuMicrosPerRequest / raw.cpuMicrosPerRequest), extraP50Ms: round3(shoal.p50Ms - raw.p50Ms) });
}
await admin.close();

console.log(`request path, echo jobs, prefetch ${PREFETCH}, median of ${REPEATS} alternating runs (${COUNT} requests each; 2000 sequential):`);
for (const r of results) {
  console.log(`  ${r.scenario}`);
  console.log(`    shoal      ${String(r.shoal.perSecond).padStart(6)} req/s  p50 ${r.shoal.p50Ms} ms  p99 ${r.shoal.p99Ms} ms  cpu ${r.shoal.cpuMicrosPerRequest} µs/req`);
  console.log(`    raw amqplib${String(r.raw.perSecond).padStart(6)} req/s  p50 ${r.raw.p50Ms} ms  p99 ${r.raw.p99Ms} ms  cpu ${r.raw.cpuMicrosPerRequest} µs/req   (reference)`);
  console.log(`    shoal/raw throughput ${r.throughputRatio}x; shoal's extra p50 ${r.extraP50Ms} ms; cpu ${r.cpuRatio}x`);
}
// A partial run (BENCH_FILTER, BENCH_ONLY) is for profiling: it leaves the recorded results alone.
if (kinds.length === 2 && chosen.length === scenarios.length) writeFileSync(new URL('./results/throughput.json', import.meta.url), `${JSON.stringify({ benchmark: 'request path', prefetch: PREFETCH, repeats: REPEATS, results }, null, 2)}\n`);
