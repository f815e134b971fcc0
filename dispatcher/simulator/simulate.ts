import type { WorkerRole } from '../../infra/runtime/types.js';
import type { Plan } from '../control/control-step.js';
import { ControlLoop } from '../control/loop.js';
import type { Sample } from '../metrics/types.js';
import { policies, type PolicyConfig } from '../policy/index.js';
import { REPORT_WAKE_CHECK_MS } from '../../infra/worker-report.js';
import { AggregateReport } from './aggregate-report.js';
import { comparisonConfig, simulationDefaults } from './defaults.js';
import { NumberDeque } from './deque.js';
import { EventHeap } from './heap.js';
import { PoolModel, type SimWorker } from './pool-model.js';
import { WaitSample } from './quantiles.js';
import { exponential, lognormal, stream, uniform } from './rng.js';
import { Timeline } from './timeline.js';
import type { SimulationOptions, SimulationResult } from './types.js';

export type { SimulationOptions, SimulationResult } from './types.js';

const enum Kind {
  Arrival,
  Done,
  Ready,
  Tick,
  Report,
  /** A report published early: the first completion after an idle one. */
  WakeReport,
}

/** One shape for every event keeps the hot loop monomorphic (a union of shapes was 3x slower). */
class SimEvent {
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly kind: Kind,
    readonly worker: SimWorker | undefined = undefined,
    readonly serviceMs = 0,
  ) {}
}

/** With requests waiting and no worker at all for this long, the policy will never recover. */
const STALL_LIMIT_MS = 60_000;

/** Raised when a run cannot finish (a policy left requests waiting with no workers). */
export class SimulationStalled extends Error {
  override readonly name = 'SimulationStalled';
}

/**
 * Runs one trace through a simulated pool sized by one policy, until every
 * request has completed. Deterministic given the seed; no I/O, no clock.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const o = { ...simulationDefaults, ...defined(options) };
  const config: PolicyConfig = { ...comparisonConfig, ...defined(options.config ?? {}) };
  const { trace, service, startDelay } = o;
  const policy = options.policy ?? policies[o.policyName];

  // Separate streams: every policy sees the same arrivals and service times.
  const arrivalRandom = stream(o.seed, 1);
  const serviceRandom = stream(o.seed, 2);
  const startRandom = stream(o.seed, 3);

  const heap = new EventHeap<SimEvent>();
  let seq = 0;
  const schedule = (at: number, kind: Kind, worker?: SimWorker, serviceMs?: number) => heap.push(new SimEvent(at, seq++, kind, worker, serviceMs));

  const pool = new PoolModel(config.concurrency);
  // The live dispatcher's control loop: the same observation window, the same control step.
  const control = new ControlLoop({ policy, config, promoteAfter: o.promoteAfterTicks, window: o.window });
  const report = new AggregateReport();
  const timeline = new Timeline(o.timelineBucketMs);
  const waits = new WaitSample();
  const queuedArrival = new NumberDeque();
  const queuedService = new NumberDeque();

  let now = 0;
  let pending = 0;
  let count = 0;
  let completed = 0;
  let lastCompletion = 0;
  let scaleEvents = 0;
  let promotions = 0;
  let arrivalsDone = false;
  let stalledSince: number | undefined;

  const drawService = () =>
    service.cv === undefined ? exponential(serviceRandom, service.meanMs) : lognormal(serviceRandom, service.meanMs, service.cv);

  // Thinning: candidates at the trace's peak rate, each kept with probability rate(t)/peak.
  const scheduleNextArrival = () => {
    let t = now;
    if (trace.maxRate > 0) {
      for (;;) {
        t += exponential(arrivalRandom, 1000 / trace.maxRate);
        if (t >= trace.durationMs) break;
        if (arrivalRandom() * trace.maxRate < trace.rate(t)) {
          schedule(t, Kind.Arrival);
          return;
        }
      }
    }
    arrivalsDone = true;
  };

  const startWorker = (role: WorkerRole) => {
    const worker = pool.start(role, now);
    const crowd = (startDelay.perConcurrentMs ?? 0) * (pool.startingCount - 1);
    const delay = Math.max(0, uniform(startRandom, startDelay.meanMs - startDelay.jitterMs, startDelay.meanMs + startDelay.jitterMs) + crowd);
    schedule(now + delay, Kind.Ready, worker);
  };

  const serve = (worker: SimWorker, arrivedAt: number, serviceMs: number) => {
    const wait = now - arrivedAt;
    waits.add(wait);
    report.started(wait);
    timeline.wait(arrivedAt, wait);
    pool.assign(worker);
    schedule(now + serviceMs, Kind.Done, worker, serviceMs);
  };

  const pullQueue = (worker: SimWorker) => {
    while (queuedArrival.length > 0 && pool.hasFreeSlot(worker)) serve(worker, queuedArrival.shift(), queuedService.shift());
  };

  // Regular workers first, least busy first; a spare only takes the overflow (consumer priorities).
  const acquire = () => pool.leastBusyRegular() ?? pool.leastBusySpare();

  const onArrival = () => {
    count++;
    pending++;
    timeline.arrival(now);
    const serviceMs = drawService();
    const worker = acquire();
    if (worker) serve(worker, now, serviceMs);
    else {
      queuedArrival.push(now);
      queuedService.push(serviceMs);
    }
    scheduleNextArrival();
  };

  const onDone = (worker: SimWorker, serviceMs: number) => {
    pending--;
    completed++;
    lastCompletion = now;
    report.completed(serviceMs);
    // The worker looks every REPORT_WAKE_CHECK_MS: on average half of it after the completion.
    if (report.wakes()) schedule(now + REPORT_WAKE_CHECK_MS / 2, Kind.WakeReport);
    pool.release(worker, now);
    pullQueue(worker);
  };

  const onReady = (worker: SimWorker) => {
    if (!pool.ready(worker, now)) return; // cancelled while starting
    pullQueue(worker);
  };

  // What the live pool does with a plan (dispatcher/pool.ts apply()): a promoted
  // spare is replaced by a new one; a retired worker still starting is cancelled.
  const apply = (plan: Plan) => {
    for (const { workerId } of plan.promote) {
      pool.promote(pool.byWorkerId(workerId)!, now);
      promotions++;
      startWorker('spare');
    }
    for (const workerId of plan.retire) pool.retire(pool.byWorkerId(workerId)!, now);
    for (let i = 0; i < plan.start; i++) startWorker('worker');
    if (plan.promote.length > 0 || plan.retire.length > 0 || plan.start > 0) scaleEvents++;
  };

  // What the live dispatcher samples: the queue at once (a passive declare), the workers'
  // counters as of their last report. Between metrics polls the loop holds the last sample.
  let sampledAt: number | undefined;
  const takeSample = (): Sample | undefined => {
    if (sampledAt !== undefined && now - sampledAt < o.metricsIntervalMs) return undefined;
    sampledAt = now;
    const queue = { ready: queuedArrival.length, unacked: pool.inFlight, consumers: pool.liveCount, publishRate: undefined, source: 'passive' as const };
    return { at: now, queue, reports: [report.latest] };
  };

  const onTick = () => {
    const sample = takeSample();
    const members = pool.members();
    const plan = control.tick(now, sample, members);
    apply(plan);
    timeline.workersAt(now, pool.regular);
    o.onDecision?.(now, plan.observation, plan.decision);
    o.onPlan?.(sample, members, plan);

    if (pending > 0 && pool.liveCount === 0) {
      stalledSince ??= now;
      if (now - stalledSince >= STALL_LIMIT_MS) {
        throw new SimulationStalled(`${o.policyName} on ${trace.name}: ${pending} requests pending and no worker at all for ${STALL_LIMIT_MS / 1000} s (min ${config.min}, spares ${o.spares}); the policy never starts one`);
      }
    } else {
      stalledSince = undefined;
    }
    schedule(now + o.controlIntervalMs, Kind.Tick);
  };

  // The pool starts warm: min regular workers and the spares are already consuming.
  for (let i = 0; i < config.min; i++) pool.ready(pool.start('worker', 0), 0);
  for (let i = 0; i < o.spares; i++) pool.ready(pool.start('spare', 0), 0);
  timeline.workersAt(0, pool.regular);
  scheduleNextArrival();
  schedule(o.controlIntervalMs, Kind.Tick);
  // Reports land between ticks, as the workers' timers are not the dispatcher's.
  schedule(o.reportIntervalMs / 2, Kind.Report);

  for (let event = heap.pop(); event; event = heap.pop()) {
    now = event.at;
    switch (event.kind) {
      case Kind.Arrival: onArrival(); break;
      case Kind.Done: onDone(event.worker!, event.serviceMs); break;
      case Kind.Ready: onReady(event.worker!); break;
      case Kind.Tick: onTick(); break;
      case Kind.Report:
        report.publish(now, pool.inFlight);
        schedule(now + o.reportIntervalMs, Kind.Report);
        break;
      case Kind.WakeReport: report.publish(now, pool.inFlight); break;
    }
    if (arrivalsDone && pending === 0 && now >= trace.durationMs) break;
  }

  const endMs = Math.max(trace.durationMs, lastCompletion);
  return {
    trace: trace.name,
    policy: o.policyName,
    seed: o.seed,
    config,
    count,
    completed,
    waitMs: {
      p50: waits.quantile(0.5) ?? 0,
      p95: waits.quantile(0.95) ?? 0,
      p99: waits.quantile(0.99) ?? 0,
      max: waits.quantile(1) ?? 0,
    },
    overTargetPct: count === 0 ? 0 : (100 * waits.countOver(config.targetWaitP95Ms)) / count,
    workerSeconds: pool.workerSeconds(endMs),
    scaleEvents,
    promotions,
    maxWorkers: pool.maxRegular,
    meanWorkers: pool.meanRegular(endMs),
    endMs,
    timeline: timeline.buckets(endMs),
  };
}

/** Drops keys set to undefined, so that they do not hide the defaults they are spread over. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
