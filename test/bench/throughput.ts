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
import amqp from 'amqplib';
import { seededRandom, type RunResult } from './lib/compare.js';
import { rawAmqpCaller, type LoadFigures } from './lib/reference-callers.js';
import type { WorkerKind, WorkerSpec } from './lib/reference-workers.js';
import { chooseRuns, compareScenarios, measureRun, referenceLoad, shoalLoad, type Scenario as PathScenario } from './lib/request-path.js';
import { AMQP_URL, benchSeed, knob, silentLogger, writeResults } from './lib/setup.js';
import { WorkerHosts } from './lib/worker-hosts.js';
import { assertTopology, deleteTopology, topologyFor } from '../../infra/amqp/topology.js';
import { RabbitRpcClient } from '../../infra/transport/rabbitmq/rpc-client.js';

const REPEATS = knob('BENCH_REPEATS', 5);
const COUNT = knob('BENCH_COUNT', 10_000);
const SEED = benchSeed();
const PREFETCH = 100;
const WINDOW = 256;

type QueueType = 'quorum' | 'classic';
type Kind = 'shoal' | 'raw-bare' | 'raw-guaranteed';
const KINDS: readonly Kind[] = ['shoal', 'raw-bare', 'raw-guaranteed'];
const LABELS: Record<Kind, string> = { shoal: 'shoal', 'raw-bare': 'raw bare', 'raw-guaranteed': 'raw guaranteed' };

interface Scenario extends PathScenario {
  queueType: QueueType;
}

/** The producer's load, shoal's (RabbitRpcClient and the producer's load runner) or a reference's. */
async function produce(kind: Kind, namespace: string, s: Scenario): Promise<LoadFigures> {
  if (kind === 'shoal') {
    const topology = topologyFor(namespace);
    return shoalLoad(await RabbitRpcClient.connect({ amqpUrl: AMQP_URL, topology, queueType: s.queueType, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger: silentLogger }), s);
  }
  return referenceLoad(await rawAmqpCaller(AMQP_URL, namespace, kind === 'raw-guaranteed'), s);
}

async function runOnce(hosts: WorkerHosts, admin: amqp.Channel, kind: Kind, s: Scenario): Promise<RunResult> {
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const topology = topologyFor(namespace);
  await assertTopology(admin, topology, { deliveryLimit: 5, queueType: s.queueType });
  const workerKind: WorkerKind = kind;
  const specs: WorkerSpec[] = Array.from({ length: s.workers }, (_, i) => ({
    kind: workerKind, workerId: `bench-${i}`, amqpUrl: AMQP_URL, redisUrl: '', namespace, queueType: s.queueType, concurrency: PREFETCH,
  }));
  const result = await measureRun(hosts, specs, s.count, () => produce(kind, namespace, s));
  await deleteTopology(admin, topology);
  return result;
}

const queueTypes: QueueType[] = ['classic', 'quorum'];
const scenarios: Scenario[] = queueTypes.flatMap((queueType) => [
  { name: `${queueType} queue, 1 worker, ${WINDOW} in flight`, queueType, workers: 1, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, 2 workers, ${WINDOW} in flight`, queueType, workers: 2, window: WINDOW, count: COUNT },
  { name: `${queueType} queue, sequential round trip, 1 in flight`, queueType, workers: 1, window: 1, count: 2000 },
]);
const chosen = chooseRuns(scenarios, KINDS);

const admin = await amqp.connect(AMQP_URL);
const adminChannel = await admin.createChannel();
const hosts = new WorkerHosts(2);
console.log(`request path, echo jobs, prefetch ${PREFETCH}, ${REPEATS} repeats in shuffled order (seed ${SEED}), ${COUNT} requests each (2000 sequential); medians (min–max)`);
const results = await compareScenarios(chosen.scenarios, {
  kinds: chosen.kinds,
  baseline: 'shoal',
  labels: LABELS,
  orderLabel: (k) => k.replace('raw-', ''),
  repeats: REPEATS,
  random: seededRandom(SEED),
  warmUpCount: 1000,
  run: (kind, s) => runOnce(hosts, adminChannel, kind, s),
});
await hosts.exit();
await admin.close();
// A partial run (BENCH_FILTER, BENCH_ONLY) is for profiling: it leaves the recorded results alone.
if (chosen.complete) writeResults('throughput', { benchmark: 'request path', prefetch: PREFETCH, window: WINDOW, repeats: REPEATS, seed: SEED, results });
