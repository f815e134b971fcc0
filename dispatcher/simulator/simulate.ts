import { policies, type Observation, type PolicyConfig, type Recommendation } from '../policy/index.js';
import { comparisonConfig, simulationDefaults } from './defaults.js';
import { NumberDeque } from './deque.js';
import { EventHeap } from './heap.js';
import { Observer } from './observer.js';
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
  const observer = new Observer({ rateWindowMs: o.rateWindowMs, shortRateWindowMs: o.shortRateWindowMs, statsWindowMs: o.statsWindowMs, minWaitSamples: o.minWaitSamples });
  const timeline = new Timeline(o.timelineBucketMs);
  const waits = new WaitSample();
  const queuedArrival = new NumberDeque();
  const queuedService = new NumberDeque();
  const history: Recommendation[] = [];

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

  const startWorker = (role: 'regular' | 'spare') => {
    const worker = pool.start(role, now);
    const delay = Math.max(0, uniform(startRandom, startDelay.meanMs - startDelay.jitterMs, startDelay.meanMs + startDelay.jitterMs));
    schedule(now + delay, Kind.Ready, worker);
  };

  const serve = (worker: SimWorker, arrivedAt: number, serviceMs: number) => {
    const wait = now - arrivedAt;
    waits.add(wait);
    observer.started(now, wait);
    timeline.wait(arrivedAt, wait);
    pool.assign(worker);
    schedule(now + serviceMs, Kind.Done, worker, serviceMs);
  };

  const pullQueue = (worker: SimWorker) => {
    while (queuedArrival.length > 0 && pool.hasFreeSlot(worker)) serve(worker, queuedArrival.shift(), queuedService.shift());
  };

  // A spare joins the pool; another one starts to take its place. `onItsOwn`: the
  // spare was saturated (not asked for by the policy), which the scale-down window remembers.
  const promote = (spare: SimWorker, onItsOwn = true) => {
    pool.promote(spare, now);
    promotions++;
    startWorker('spare');
    if (onItsOwn && o.rememberPromotions) history.push({ at: now, workers: pool.regular });
  };

  // Regular workers first, least busy first; a spare only takes the overflow.
  const acquire = () => {
    const regular = pool.leastBusyRegular();
    if (regular) return regular;
    const spare = pool.leastBusySpare();
    if (spare && o.promoteAfterTicks === 0) promote(spare);
    return spare;
  };

  const onArrival = () => {
    count++;
    pending++;
    observer.arrived(now);
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
    observer.completed(now, serviceMs);
    pool.release(worker, now);
    pullQueue(worker);
  };

  const onReady = (worker: SimWorker) => {
    if (!pool.ready(worker, now)) return; // cancelled while starting
    if (worker.role === 'spare' && queuedArrival.length > 0 && o.promoteAfterTicks === 0) promote(worker);
    pullQueue(worker);
  };

  // As the live pool: a spare is promoted once it has been saturated (all its
  // slots busy) in several observations in a row. Some overflow is its job.
  const promoteBusySpares = () => {
    for (const spare of pool.activeSpares()) {
      spare.busyStreak = spare.inFlight >= config.concurrency ? spare.busyStreak + 1 : 0;
      if (o.promoteAfterTicks > 0 && spare.busyStreak >= o.promoteAfterTicks) promote(spare);
    }
  };

  // The metrics poll: between polls the policy decides on the last sample (sample and hold).
  let sampled: { at: number; observation: Observation } | undefined;
  const onTick = () => {
    promoteBusySpares();
    if (!sampled || now - sampled.at >= o.metricsIntervalMs) sampled = { at: now, observation: observer.observe(now, queuedArrival.length, pool.inFlight) };
    const observation = sampled.observation;
    const view = pool.view();
    const current = view.active + view.starting;
    const decision = policy(observation, view, config, now, history);
    history.push({ at: now, workers: decision.recommendation });
    while (history.length > 0 && now - history[0]!.at >= config.scaleDownStabilizationMs) history.shift();
    if (decision.desired !== current) scaleEvents++;
    // Growing: ready spares become regular workers first (they are already consuming), then new ones start.
    for (let i = current; i < decision.desired; i++) {
      const spare = pool.activeSpares()[0];
      if (spare) promote(spare, false);
      else startWorker('regular');
    }
    if (decision.desired < current) pool.shrink(current - decision.desired, now);
    timeline.workersAt(now, pool.regular);
    o.onDecision?.(now, observation, decision);

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
  for (let i = 0; i < config.min; i++) pool.ready(pool.start('regular', 0), 0);
  for (let i = 0; i < o.spares; i++) pool.ready(pool.start('spare', 0), 0);
  timeline.workersAt(0, pool.regular);
  scheduleNextArrival();
  schedule(o.controlIntervalMs, Kind.Tick);

  for (let event = heap.pop(); event; event = heap.pop()) {
    now = event.at;
    switch (event.kind) {
      case Kind.Arrival: onArrival(); break;
      case Kind.Done: onDone(event.worker!, event.serviceMs); break;
      case Kind.Ready: onReady(event.worker!); break;
      case Kind.Tick: onTick(); break;
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
