import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolStatus } from '../../infra/pool-status.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { runLoad } from '../../producer/load.js';
import type { LoadSummary } from '../../producer/summary.js';
import { connectClient, consumerCount, newNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, killProcessPool, runCli, startDispatcher } from '../helpers/processes.js';
import { parseExposition, valueOf, type Exposition } from '../helpers/prometheus.js';

/** Every metric of shoal's own (the process metrics prom-client adds are prefixed shoal_dispatcher_). */
const SHOAL_METRICS = [
  'shoal_arrival_rate',
  'shoal_desired_workers',
  'shoal_in_flight',
  'shoal_queue_backlog',
  'shoal_queue_wait_p95_ms',
  'shoal_scale_events_total',
  'shoal_service_time_ms',
  'shoal_workers',
];

/** 1280 `sleep` jobs of 50 ms at 160/s for 8 s: 8 busy slots, more than a worker of 4 and a spare of 4 hold. */
const LOAD = { count: 1280, ratePerSec: 160, concurrency: 1000, job: 'sleep', payload: { ms: 50 }, timeoutMs: 30_000 };

/** What the dispatcher says at one tick: its /status and its /metrics, read with no tick in between. */
interface Reading {
  status: PoolStatus;
  metrics: Exposition;
}

describe('what shoal-status prints and what the dispatcher exports to Prometheus', () => {
  let namespace: string;
  let dispatcher: ChildProcess | undefined;

  afterEach(async () => {
    await killProcessPool(dispatcher, namespace);
    dispatcher = undefined;
  });

  it('shows the pool, its queue, latency and decisions, and every metric matches the pool under a real load', async () => {
    namespace = newNamespace();
    const started = startDispatcher(['--runtime', 'process', '--min', '1', '--max', '3', '--spares', '1', '--worker-concurrency', '4', '--metrics-port', '0', '--namespace', namespace]);
    dispatcher = started.child;
    await waitFor('a worker and a spare consuming', async () => (await consumerCount(topologyFor(namespace))) === 2);
    const metricsUrl = await waitFor('the metrics URL in the log', () => /"url":"(http:\/\/[^"]+\/metrics)"/.exec(started.output())?.[1]);
    const statusUrl = metricsUrl.replace(/metrics$/, 'status');

    /** /status, /metrics, /status again: the two statuses are of the same tick, so the metrics are too. */
    const read = (): Promise<Reading> => waitFor('a reading within one tick', async () => {
      const before = ((await (await fetch(statusUrl)).json()) as { status?: PoolStatus }).status;
      const metrics = parseExposition(await (await fetch(metricsUrl)).text());
      const after = ((await (await fetch(statusUrl)).json()) as { status?: PoolStatus }).status;
      return before && after && before.at === after.at && { status: after, metrics };
    });

    // Idle: one regular worker and one spare, both reporting.
    const idle = await waitFor('both workers active', async () => {
      const r = await read();
      return r.status.members.length === 2 && r.status.members.every((m) => m.state === 'active') && r;
    });
    expect([...idle.metrics.names].filter((n) => !n.startsWith('shoal_dispatcher_')).sort()).toEqual(SHOAL_METRICS);
    expect(idle.metrics.names.has('shoal_dispatcher_process_cpu_seconds_total')).toBe(true);
    expectMetricsMatch(idle);
    expect(valueOf(idle.metrics, 'shoal_workers', { role: 'worker', state: 'active' })).toBe(1);
    expect(valueOf(idle.metrics, 'shoal_workers', { role: 'spare', state: 'active' })).toBe(1);
    expect(valueOf(idle.metrics, 'shoal_desired_workers')).toBe(1);
    expect(valueOf(idle.metrics, 'shoal_queue_backlog')).toBe(0);
    expect(valueOf(idle.metrics, 'shoal_in_flight')).toBe(0);
    const upBefore = valueOf(idle.metrics, 'shoal_scale_events_total', { direction: 'up' }) ?? 0;
    const idleText = await statusCommand(namespace);
    expect(idleText).toContain(`pool ${namespace}  policy target-wait  target p95 wait 200 ms  runtime process  min 1  max 3  spares 1`);
    expect(idleText).toMatch(/^queue {2}backlog 0 {2}in flight 0 {2}arrival 0\.0\/s/m);

    // Under load: sample 4 s in, while requests still arrive at the full rate and the pool has grown.
    const client = await connectClient(namespace);
    let summary: LoadSummary;
    let midLoad: { reading: Reading; text: string; json: PoolStatus };
    try {
      const load = runLoad(client, LOAD);
      await sleep(4000);
      midLoad = { reading: await read(), text: await statusCommand(namespace), json: await statusJson(namespace) };
      summary = await load;
    } finally {
      await client.close();
    }
    expect(summary).toMatchObject({ sent: LOAD.count, ok: LOAD.count });
    const { reading: busy, text, json } = midLoad;
    console.log(`under load (${LOAD.ratePerSec}/s of ${LOAD.payload.ms} ms sleeps), shoal-status printed:\n${text}`);
    console.log(`and /metrics: ${SHOAL_METRICS.map((n) => `${n} ${busy.metrics.samples.filter((s) => s.name === n).map((s) => `${JSON.stringify(s.labels)}=${s.value}`).join(' ')}`).join('; ')}`);

    expectMetricsMatch(busy);
    const o = busy.status.observation;
    expect(o.arrivalRate).toBeGreaterThan(LOAD.ratePerSec * 0.5);
    expect(o.arrivalRate).toBeLessThan(LOAD.ratePerSec * 1.5);
    expect(o.serviceMs).toBeGreaterThanOrEqual(LOAD.payload.ms);
    expect(o.serviceMs).toBeLessThan(LOAD.payload.ms * 3);
    expect(o.waitP95Ms).toBeGreaterThanOrEqual(0);
    expect(o.inFlight).toBeLessThanOrEqual(4 * busy.status.members.length);
    expect(busy.status.desired).toBeGreaterThanOrEqual(2); // 8 busy slots and more: 2 workers and up
    expect(valueOf(busy.metrics, 'shoal_scale_events_total', { direction: 'up' })).toBeGreaterThan(upBefore);

    // What the command printed, line by line, against the status it read (its --json, read right after).
    const lines = text.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^pool ${namespace} {2}policy target-wait .* {2}runtime process {2}min 1 {2}max 3 {2}spares 1 {2}\\(as of [0-2] s ago\\)$`));
    const queue = /^queue {2}backlog (\d+) {2}in flight (\d+) {2}arrival ([\d.]+)\/s {2}service (\d+) ms {2}p95 wait (\d+|-)(?: ms)? {2}desired (\d+)$/.exec(lines[1]!);
    expect(queue, lines[1]).not.toBeNull();
    expect(Number(queue![3])).toBeGreaterThan(LOAD.ratePerSec * 0.5);
    expect(Number(queue![4])).toBeGreaterThanOrEqual(LOAD.payload.ms);
    expect(Number(queue![6])).toBeGreaterThanOrEqual(2);
    const workersHeader = lines.findIndex((l) => /^workers \(\d+\)$/.test(l));
    const decisionsHeader = lines.indexOf('last decisions');
    const memberLines = lines.slice(workersHeader + 1, decisionsHeader).map((l) => l.trim().split(/\s+/));
    expect(lines[workersHeader]).toBe(`workers (${memberLines.length})`);
    expect(memberLines.length).toBeGreaterThanOrEqual(3); // grown from 1 + a spare
    // The command ran between the two readings: each worker it lists is in one of them.
    const pool = new Set([...busy.status.members, ...json.members].map((m) => m.workerId));
    for (const [workerId, state, ...rest] of memberLines) {
      expect(workerId).toMatch(new RegExp(`^${namespace}-(worker|spare)-[0-9a-f]{6}$`));
      expect(['starting', 'active', 'draining', 'spare']).toContain(state);
      expect(rest.join(' ')).toMatch(/^in flight \d+$/);
      expect(pool.has(workerId!), workerId).toBe(true);
    }
    const decisionLines = lines.slice(decisionsHeader + 1);
    expect(decisionLines.length).toBeGreaterThan(0);
    for (const l of decisionLines) expect(l).toMatch(/^ {2}\d\d:\d\d:\d\d {2}\S.*$/);
    expect(decisionLines.join('\n')).toContain(json.decisions[0]!.reason);

    // After the load: the pool shrinks back, and the counter of scale-downs moves too.
    const calm = await waitFor('a scale-down back to 1 worker', async () => {
      const r = await read();
      return (valueOf(r.metrics, 'shoal_scale_events_total', { direction: 'down' }) ?? 0) > 0 && r.status.desired === 1 && r;
    }, 40_000);
    expectMetricsMatch(calm);
    expect(valueOf(calm.metrics, 'shoal_arrival_rate')).toBeLessThan(LOAD.ratePerSec * 0.5);

    started.child.kill('SIGINT');
    expect(await exitOf(started.child)).toBe(0);
    expect(workerPids(namespace)).toEqual([]);
  }, 90_000);
});

/** Each gauge says what the dispatcher's own status says at the same tick. */
function expectMetricsMatch({ status, metrics }: Reading): void {
  const byRoleState = new Map<string, number>();
  for (const m of status.members) byRoleState.set(`${m.role}/${m.state}`, (byRoleState.get(`${m.role}/${m.state}`) ?? 0) + 1);
  const exported = new Map(metrics.samples.filter((s) => s.name === 'shoal_workers').map((s) => [`${s.labels.role}/${s.labels.state}`, s.value]));
  expect(exported).toEqual(byRoleState);
  const o = status.observation;
  expect(valueOf(metrics, 'shoal_desired_workers')).toBe(status.desired);
  expect(valueOf(metrics, 'shoal_queue_backlog')).toBe(o.backlog);
  expect(valueOf(metrics, 'shoal_in_flight')).toBe(o.inFlight);
  expect(valueOf(metrics, 'shoal_arrival_rate')).toBeCloseTo(o.arrivalRate, 6);
  if (o.serviceMs !== undefined) expect(valueOf(metrics, 'shoal_service_time_ms')).toBeCloseTo(o.serviceMs, 6);
  if (o.waitP95Ms !== undefined) expect(valueOf(metrics, 'shoal_queue_wait_p95_ms')).toBeCloseTo(o.waitP95Ms, 6);
}

async function statusCommand(namespace: string): Promise<string> {
  const result = await runCli('dispatcher/tools/status.js', ['--namespace', namespace]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trimEnd();
}

async function statusJson(namespace: string): Promise<PoolStatus> {
  const result = await runCli('dispatcher/tools/status.js', ['--namespace', namespace, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as PoolStatus;
}
