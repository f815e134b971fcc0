/**
 * Benchmark: the full request path (producer -> queue -> worker -> reply) with
 * `echo` jobs, shoal against two raw-amqplib RPC loops on the same queue type
 * (classic and quorum), prefetch and window: the bare loop (no confirms, no
 * `mandatory`, transient messages) and one with shoal's guarantees (confirms,
 * `mandatory`, persistent messages; both ack by hand after the reply). Also
 * the sequential round trip (one request in flight). The producer runs in
 * this process, each worker in a process of its own (lib/worker-host.ts), and
 * each side's CPU per request is measured with process.cpuUsage(). The kinds
 * run in a new shuffled order every repeat; figures are medians with their
 * range, and ratios are taken run by run within a repeat.
 * Not a test: prints figures and ratios, asserts nothing.
 * Run: npm run bench (or: npx tsx test/bench/throughput.ts)
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import amqp from 'amqplib';
import { pino } from 'pino';
import { compareKinds, formatRatios, formatRun, ratios, seededRandom, summarize, type RunResult } from './lib/compare.js';
import { driveReference, rawAmqpCaller, type LoadFigures } from './lib/reference-callers.js';
import type { WorkerKind, WorkerSpec } from './lib/reference-workers.js';
import { WorkerHosts } from './lib/worker-hosts.js';
import { assertTopology, deleteTopology, topologyFor } from '../../infra/amqp/topology.js';
import { runLoad } from '../../producer/load.js';
import { RabbitRpcClient } from '../../infra/transport/rabbitmq/rpc-client.js';

const AMQP_URL = process.env.SHOAL_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const SEED = Number(process.env.BENCH_SEED ?? Date.now() % 100_000);
const PREFETCH = 100;
const WINDOW = 256;
const logger = pino({ level: 'silent' });

type QueueType = 'quorum' | 'classic';
type Kind = 'shoal' | 'raw-bare' | 'raw-guaranteed';
const KINDS: readonly Kind[] = ['shoal', 'raw-bare', 'raw-guaranteed'];
const LABELS: Record<Kind, string> = { shoal: 'shoal', 'raw-bare': 'raw bare', 'raw-guaranteed': 'raw guaranteed' };

interface Scenario {
  name: string;
  queueType: QueueType;
  workers: number;
  window: number;
  count: number;
}

/** The producer's load, shoal's (RabbitRpcClient and the producer's load runner) or a reference's. */
async function produce(kind: Kind, namespace: string, s: Scenario): Promise<LoadFigures> {
  if (kind === 'shoal') {
    const topology = topologyFor(namespace);
    const client = await RabbitRpcClient.connect({ amqpUrl: AMQP_URL, topology, queueType: s.queueType, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger });
    try {
      const summary = await runLoad(client, { count: s.count, concurrency: s.window, ratePerSec: undefined, job: 'echo', payload: 'x', timeoutMs: 60_000 });
      if (summary.ok !== s.count) throw new Error(`shoal run answered ${summary.ok} of ${s.count}`);
      return { perSecond: Math.round(summary.throughputPerSec), p50Ms: summary.latencyMs.p50, p99Ms: summary.latencyMs.p99 };
    } finally {
      await client.close();
    }
  }
  const caller = await rawAmqpCaller(AMQP_URL, namespace, kind === 'raw-guaranteed');
  try {
    return await driveReference(caller, s.count, s.window);
  } finally {
    await caller.close();
  }
}

async function runOnce(hosts: WorkerHosts, admin: amqp.Channel, kind: Kind, s: Scenario): Promise<RunResult> {
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const topology = topologyFor(namespace);
  await assertTopology(admin, topology, { deliveryLimit: 5, queueType: s.queueType });
  const workerKind: WorkerKind = kind;
  const specs: WorkerSpec[] = Array.from({ length: s.workers }, (_, i) => ({
    kind: workerKind, workerId: `bench-${i}`, amqpUrl: AMQP_URL, redisUrl: '', namespace, queueType: s.queueType, concurrency: PREFETCH,
  }));
  await hosts.start(specs);
  await hosts.markCpu();
  const before = process.cpuUsage();
  const figures = await produce(kind, namespace, s);
  const producer = process.cpuUsage(before);
  const workerMicros = await hosts.cpuMicros();
  await hosts.stop();
  await deleteTopology(admin, topology);
  return { ...figures, producerCpuUs: (producer.user + producer.system) / s.count, workerCpuUs: workerMicros / s.count };
}

const queueTypes: QueueType[] = ['classic', 'quorum'];
const scenarios: Scenario[] = queueTypes.flatMap((queueType) => [
  { name: `${queueType} queue, 1 worker, ${WINDOW} in flight`, queueType, workers: 1, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, 2 workers, ${WINDOW} in flight`, queueType, workers: 2, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, sequential round trip, 1 in flight`, queueType, workers: 1, window: 1, count: 2000 },
]);
// BENCH_FILTER=<text> runs only the scenarios whose name contains it, BENCH_ONLY=<kind>[,<kind>] only those kinds (for profiling).
const chosen = scenarios.filter((s) => s.name.includes(process.env.BENCH_FILTER ?? ''));
const only = process.env.BENCH_ONLY?.split(',');
const kinds = KINDS.filter((k) => !only || only.includes(k));

const admin = await amqp.connect(AMQP_URL);
const adminChannel = await admin.createChannel();
const hosts = new WorkerHosts(2);
const random = seededRandom(SEED);
console.log(`request path, echo jobs, prefetch ${PREFETCH}, ${REPEATS} repeats in shuffled order (seed ${SEED}), ${COUNT} requests each (2000 sequential); medians (min–max)`);
const results = [];
for (const s of chosen) {
  const warmUp = (kind: Kind) => runOnce(hosts, adminChannel, kind, { ...s, count: Math.min(s.count, 1000) });
  const compared = await compareKinds(kinds, REPEATS, random, (kind) => runOnce(hosts, adminChannel, kind, s), warmUp);
  const summaries = Object.fromEntries(kinds.map((k) => [k, summarize(compared.runs[k])]));
  console.log(`  ${s.name}   (load average ${compared.loadAverage.join(' -> ')}; orders ${compared.orders.map((o) => o.map((k) => k.replace('raw-', '')).join('/')).join(', ')})`);
  for (const k of kinds) console.log(formatRun(LABELS[k], summaries[k]!));
  const versus: Record<string, ReturnType<typeof ratios>> = {};
  if (kinds.includes('shoal')) {
    for (const ref of kinds.filter((k) => k !== 'shoal')) {
      versus[ref] = ratios(compared.runs.shoal, compared.runs[ref]);
      console.log(formatRatios(`shoal / ${LABELS[ref]}`, versus[ref]));
    }
  }
  results.push({ scenario: s.name, loadAverage: compared.loadAverage, orders: compared.orders, summaries, versus, runs: compared.runs });
}
await hosts.exit();
await admin.close();
// A partial run (BENCH_FILTER, BENCH_ONLY) is for profiling: it leaves the recorded results alone.
if (kinds.length === KINDS.length && chosen.length === scenarios.length) {
  writeFileSync(new URL('./results/throughput.json', import.meta.url), `${JSON.stringify({ benchmark: 'request path', prefetch: PREFETCH, window: WINDOW, repeats: REPEATS, seed: SEED, results }, null, 2)}\n`);
}
