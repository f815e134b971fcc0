/**
 * Benchmark: what the dispatcher itself costs, in CPU and resident memory,
 *  - idle, at its floor (--min 1 with its default warm spare), and
 *  - managing 20 worker processes (--min 20 --max 20 --spares 0),
 * against references measured in the same windows: a bare Node.js process that
 * holds an amqplib connection and an ioredis client and does nothing else (the
 * least any dispatcher that talks to the broker and Redis must cost), and the
 * same process polling once a second what the dispatcher reads: the queue's
 * depth, the management API and the 20 workers' reports (the floor of any
 * 1 s control loop).
 * All four run at once and are read from /proc over the same fixed windows,
 * repeated; the medians are printed. Not a test: prints figures, asserts nothing.
 * Run: npm run bench -- dispatcher-cost
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { topologyFor } from '../../infra/amqp/topology.js';
import { workerReportKey } from '../../infra/redis.js';
import { AMQP_URL, REDIS_URL, consumerCount, newNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { killProcessPool, startDispatcher } from '../helpers/processes.js';
import { cpuMs, rssBytes } from './lib/proc-stats.js';
import { knob, writeResults } from './lib/setup.js';
import { median, round } from './lib/stats.js';
import { stopChild } from './lib/stop-child.js';

const WINDOWS = knob('BENCH_WINDOWS', 5);
const WINDOW_MS = knob('BENCH_WINDOW_MS', 10_000);
const SETTLE_MS = 5_000;
const MANY = 20;

/**
 * The references: connected to the broker (heartbeats on, as shoal's connections)
 * and to Redis; idle, or polling once a second (POLL_QUEUE set) what the dispatcher reads.
 */
const REFERENCE_SCRIPT = `
import amqp from 'amqplib';
import { Redis } from 'ioredis';
const connection = await amqp.connect(${JSON.stringify(AMQP_URL)}, { noDelay: true, heartbeat: 10 });
const channel = await connection.createChannel();
const redis = new Redis(${JSON.stringify(REDIS_URL)});
await redis.ping();
const { POLL_QUEUE, POLL_REPORTS } = process.env;
const auth = 'Basic ' + Buffer.from('guest:guest').toString('base64');
async function poll() {
  await channel.checkQueue(POLL_QUEUE);
  await (await fetch('http://127.0.0.1:15672/api/queues/%2F/' + encodeURIComponent(POLL_QUEUE), { headers: { authorization: auth } })).json();
  const keys = [];
  let cursor = '0';
  do { const [next, found] = await redis.scan(cursor, 'MATCH', POLL_REPORTS, 'COUNT', 500); cursor = next; keys.push(...found); } while (cursor !== '0');
  if (keys.length) (await redis.mget(...keys)).map((v) => v && JSON.parse(v));
}
if (POLL_QUEUE) setInterval(() => void poll(), 1000); else setInterval(() => {}, 1 << 30);
process.stdout.write('ready\\n');
process.on('SIGTERM', async () => { await connection.close(); redis.disconnect(); process.exit(0); });
`;

interface Subject {
  name: string;
  pid: () => number[];
}

const idleNs = newNamespace().replace('test-', 'bench-cost-');
const manyNs = newNamespace().replace('test-', 'bench-cost-');
const children: ChildProcess[] = [];

async function startReference(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', REFERENCE_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.push(child);
  const timeout = sleep(20_000, undefined, { ref: false }).then(() => Promise.reject(new Error('the reference process did not connect within 20 s')));
  await Promise.race([once(child.stdout!, 'data'), timeout]);
  return child;
}

async function startPool(namespace: string, args: string[], consumers: number): Promise<ChildProcess> {
  const { child } = startDispatcher([...args, '--runtime', 'process', '--metrics-port', '0', '--namespace', namespace]);
  children.push(child);
  await waitFor(`${consumers} workers consuming in ${namespace}`, async () => (await consumerCount(topologyFor(namespace))) === consumers, 90_000);
  return child;
}

interface Sample {
  cpuPct: number;
  rssMb: number;
}

const samples = new Map<string, Sample[]>();
let workersOfMany: Sample[] = [];
try {
  const reference = await startReference();
  const idle = await startPool(idleNs, ['--min', '1'], 2);
  const many = await startPool(manyNs, ['--min', String(MANY), '--max', String(MANY), '--spares', '0'], MANY);
  const poller = await startReference({ POLL_QUEUE: topologyFor(manyNs).requestQueue, POLL_REPORTS: workerReportKey(manyNs, '*') });
  process.stderr.write(`dispatcher-cost: all running after ${Math.round(performance.now() / 1000)} s; measuring\n`);
  const subjects: Subject[] = [
    { name: 'reference', pid: () => [reference.pid!] },
    { name: 'poller', pid: () => [poller.pid!] },
    { name: 'idle', pid: () => [idle.pid!] },
    { name: 'many', pid: () => [many.pid!] },
    { name: 'workersOfMany', pid: () => workerPids(manyNs) },
  ];
  await sleep(SETTLE_MS); // past the start-up: JIT, first reports, first decisions
  for (let w = 0; w < WINDOWS; w++) {
    const pids = subjects.map((s) => s.pid());
    const before = pids.map((ps) => ps.map(cpuMs));
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const seconds = (performance.now() - t0) / 1000;
    subjects.forEach((s, i) => {
      const used = pids[i]!.reduce((sum, pid, j) => sum + cpuMs(pid) - before[i]![j]!, 0);
      const rss = pids[i]!.reduce((sum, pid) => sum + rssBytes(pid), 0);
      const list = samples.get(s.name) ?? [];
      list.push({ cpuPct: used / seconds / 10, rssMb: rss / 1024 ** 2 });
      samples.set(s.name, list);
    });
    process.stderr.write(`dispatcher-cost: window ${w + 1}/${WINDOWS} done\n`);
  }
  workersOfMany = samples.get('workersOfMany')!;
} finally {
  for (const child of children.reverse()) await stopChild(child);
  // What a dispatcher that had to be killed left behind: its workers, its queues and keys.
  for (const ns of [idleNs, manyNs]) await killProcessPool(undefined, ns);
}

const summary = (name: string) => {
  const list = samples.get(name)!;
  return { cpuPct: round(median(list.map((s) => s.cpuPct)), 2), rssMb: round(median(list.map((s) => s.rssMb)), 1), cpuSamples: list.map((s) => round(s.cpuPct, 2)) };
};
const reference = summary('reference');
const poller = summary('poller');
const idle = summary('idle');
const many = summary('many');
const workers = { cpuPct: round(median(workersOfMany.map((s) => s.cpuPct)), 1), rssMb: round(median(workersOfMany.map((s) => s.rssMb)), 0) };
const ratio = (a: number, b: number) => (b > 0 ? `${round(a / b, 1)}x` : 'n/a (the reference used no measurable CPU)');
/** /proc counts CPU in 10 ms ticks: over a 10 s window, less than one tick is under 0.1 %. */
const cpu = (pct: number) => (pct > 0 ? `${pct} %` : `< ${round(1000 / WINDOW_MS, 2)} %`);

console.log(`dispatcher cost, median of ${WINDOWS} windows of ${WINDOW_MS / 1000} s (all measured in the same windows; 100 % = one core):`);
const lines: [string, ReturnType<typeof summary>][] = [
  ['reference: node + an amqplib connection + an ioredis client, idle', reference],
  [`reference: the same, polling the queue, the management API and ${MANY} reports every 1 s`, poller],
  ['dispatcher, idle (--min 1: 1 worker + 1 spare)', idle],
  [`dispatcher, managing ${MANY} workers (--min ${MANY} --spares 0)`, many],
];
const width = Math.max(...lines.map(([label]) => label.length));
for (const [label, s] of lines) console.log(`  ${label.padEnd(width)}  CPU ${cpu(s.cpuPct).padEnd(8)} RSS ${String(s.rssMb).padStart(5)} MB   (CPU % per window: ${s.cpuSamples.join(' ')})`);
const both = (ref: typeof idle) => `idle CPU ${ratio(idle.cpuPct, ref.cpuPct)}, RSS ${ratio(idle.rssMb, ref.rssMb)}; with ${MANY} workers CPU ${ratio(many.cpuPct, ref.cpuPct)}, RSS ${ratio(many.rssMb, ref.rssMb)}`;
console.log(`  dispatcher / polling reference: ${both(poller)}`);
console.log(`  dispatcher / bare reference:    ${both(reference)}`);
console.log(`  dispatcher with ${MANY} workers / idle: CPU ${ratio(many.cpuPct, idle.cpuPct)}, RSS ${ratio(many.rssMb, idle.rssMb)}`);
console.log(`  (the ${MANY} idle worker processes themselves: CPU ${workers.cpuPct} %, RSS ${workers.rssMb} MB in all; the broker's and Redis's own work is not counted)`);
console.log(`  machine load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine makes these figures noisy)`);
writeResults('dispatcher-cost', { benchmark: 'dispatcher cost', windows: WINDOWS, windowMs: WINDOW_MS, loadAverage: loadavg()[0], reference, pollingReference: poller, idle, [`workers${MANY}`]: many, [`workerProcesses${MANY}`]: workers });
