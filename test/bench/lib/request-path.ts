import type { RpcCaller } from '../../../infra/transport/types.js';
import { runLoad } from '../../../producer/load.js';
import { compareKinds, formatRatios, formatRun, ratios, summarize, type RunResult } from './compare.js';
import { driveReference, type LoadFigures, type ReferenceCaller } from './reference-callers.js';
import { listKnob } from './setup.js';
import type { WorkerSpec } from './reference-workers.js';
import type { WorkerHosts } from './worker-hosts.js';

/**
 * The request-path benchmarks' common run (throughput.ts on RabbitMQ,
 * bullmq-throughput.ts on BullMQ): shoal and its references, each a kind of
 * producer and worker, compared scenario by scenario in shuffled order.
 */

/** How many requests a run sends and how many it keeps in flight. */
export interface Load {
  name: string;
  count: number;
  window: number;
}

/** A scenario: a load on so many workers, each in a process of its own. */
export interface Scenario extends Load {
  workers: number;
}

/** shoal's producer: the producer's load runner on an RPC client, which it closes. Fails unless every request was answered. */
export async function shoalLoad(client: RpcCaller, load: Load): Promise<LoadFigures> {
  try {
    const summary = await runLoad(client, { count: load.count, concurrency: load.window, ratePerSec: undefined, job: 'echo', payload: 'x', timeoutMs: 60_000 });
    if (summary.ok !== load.count) throw new Error(`shoal run answered ${summary.ok} of ${load.count}`);
    return { perSecond: Math.round(summary.throughputPerSec), p50Ms: summary.latencyMs.p50, p99Ms: summary.latencyMs.p99 };
  } finally {
    await client.close();
  }
}

/** A reference's producer, which it closes. */
export async function referenceLoad(caller: ReferenceCaller, load: Load): Promise<LoadFigures> {
  try {
    return await driveReference(caller, load.count, load.window);
  } finally {
    await caller.close();
  }
}

/** One run: the workers started in their hosts, the load produced here, each side's CPU per request. */
export async function measureRun(hosts: WorkerHosts, workers: readonly WorkerSpec[], count: number, produce: () => Promise<LoadFigures>): Promise<RunResult> {
  await hosts.start(workers);
  await hosts.markCpu();
  const before = process.cpuUsage();
  const figures = await produce();
  const producer = process.cpuUsage(before);
  const workerMicros = await hosts.cpuMicros();
  await hosts.stop();
  return { ...figures, producerCpuUs: (producer.user + producer.system) / count, workerCpuUs: workerMicros / count };
}

/**
 * BENCH_FILTER=<text> runs only the scenarios whose name contains it,
 * BENCH_ONLY=<kind>[,<kind>] only those kinds (for profiling). A part is not
 * `complete`: it leaves the recorded results alone.
 */
export function chooseRuns<S extends { name: string }, K extends string>(scenarios: readonly S[], kinds: readonly K[]) {
  const chosen = scenarios.filter((s) => s.name.includes(process.env.BENCH_FILTER ?? ''));
  const only = listKnob('BENCH_ONLY');
  const chosenKinds = kinds.filter((k) => !only || only.includes(k));
  return { scenarios: chosen, kinds: chosenKinds, complete: chosen.length === scenarios.length && chosenKinds.length === kinds.length };
}

export interface Comparison<K extends string, S extends Load> {
  kinds: readonly K[];
  /** The kind the others are measured against (shoal), when it runs. */
  baseline: K;
  labels: Record<K, string>;
  /** How a kind is named in the printed run orders. */
  orderLabel?: (kind: K) => string;
  repeats: number;
  random: () => number;
  /** The warm-up runs' request count (unrecorded: JIT, connections). */
  warmUpCount: number;
  run: (kind: K, scenario: S) => Promise<RunResult>;
}

/** Runs and prints every scenario: each kind's medians and the baseline's ratios to every other kind. Resolves with each scenario's figures. */
export async function compareScenarios<K extends string, S extends Load>(scenarios: readonly S[], c: Comparison<K, S>) {
  const results = [];
  for (const s of scenarios) {
    const warmUp = (kind: K) => c.run(kind, { ...s, count: Math.min(s.count, c.warmUpCount) });
    const compared = await compareKinds(c.kinds, c.repeats, c.random, (kind) => c.run(kind, s), warmUp);
    const summaries = Object.fromEntries(c.kinds.map((k) => [k, summarize(compared.runs[k])]));
    const orderLabel = c.orderLabel ?? ((k: K) => c.labels[k]);
    console.log(`  ${s.name}   (load average ${compared.loadAverage.join(' -> ')}; orders ${compared.orders.map((o) => o.map(orderLabel).join('/')).join(', ')})`);
    for (const k of c.kinds) console.log(formatRun(c.labels[k], summaries[k]!));
    const versus: Partial<Record<K, ReturnType<typeof ratios>>> = {};
    if (c.kinds.includes(c.baseline)) {
      for (const ref of c.kinds.filter((k) => k !== c.baseline)) {
        versus[ref] = ratios(compared.runs[c.baseline], compared.runs[ref]);
        console.log(formatRatios(`${c.labels[c.baseline]} / ${c.labels[ref]}`, versus[ref]!));
      }
    }
    results.push({ scenario: s.name, loadAverage: compared.loadAverage, orders: compared.orders, summaries, versus, runs: compared.runs });
  }
  return results;
}
