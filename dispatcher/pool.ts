import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import type { WorkerReport } from '../infra/worker-report.js';
import type { PoolEvent } from '../infra/pool-events.js';
import type { ExitInfo, WorkerRole, WorkerRuntime } from '../infra/runtime/types.js';
import type { Plan } from './control/control-step.js';
import { pickVictims, poolView, type MemberView } from './control/members.js';
import type { PoolView } from './policy/types.js';
import { drainGraceMs, drainThenRemove } from './pool-drain.js';
import { member, type Member } from './pool-member.js';
import { StartBackoff } from './start-backoff.js';

export interface PoolOptions {
  runtime: WorkerRuntime;
  namespace: string;
  /** Regular workers to start with. */
  size: number;
  /** Warm spares to keep: started, connected, consuming at a low priority. */
  spares: number;
  /** Environment every worker gets (broker URL, namespace, concurrency, ...). */
  workerEnv: Record<string, string>;
  /** How long a draining worker may take before it is killed. */
  drainGraceMs: number;
  logger: Logger;
  /** Tells a spare that it is now a regular worker (a control message). */
  promote?: (workerId: string) => Promise<unknown>;
  /** Without worker reports, a started worker counts as active after this long. */
  startupGraceMs?: number;
}

export type { Member, PoolEvent };

/** How often the pool checks itself against the runtime's list. */
const RESYNC_INTERVAL_MS = 5_000;

export { STARTING_DRAIN_GRACE_MS } from './pool-drain.js';
export { restartDelayMs } from './start-backoff.js';

/**
 * Owns the workers of one pool through a WorkerRuntime: keeps `size` regular
 * workers and `spares` warm spares, replaces ones that die (with a backoff:
 * start-backoff.ts), and carries out the control step's plans: it promotes the
 * spares the plan names and drains the workers it names (pool-drain.ts: they
 * finish and ack what they hold) before removing them. Which spare to promote
 * and who leaves are the control step's decisions (control/), not the pool's.
 * Emits 'event' with a PoolEvent for every change.
 */
export class Pool extends EventEmitter {
  private readonly byId = new Map<string, Member>();
  private readonly retiring = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  /** No new worker starts before it has passed: the backoff after failed starts, whoever asks. */
  private readonly backoff = new StartBackoff();
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private size: number;

  constructor(private readonly options: PoolOptions) {
    super();
    this.size = options.size;
  }

  get workerIds(): string[] {
    return [...this.byId.keys()];
  }

  /** The pool as the policy sees it: regular workers by state, and the spares that are consuming. */
  view(): PoolView {
    return poolView(this.members());
  }

  /** Every worker, in start order, as the control step sees it. */
  members(): MemberView[] {
    return [...this.byId.values()].map(({ workerId, role, state, inFlight }) => ({ workerId, role, state, inFlight }));
  }

  snapshot(): Member[] {
    return [...this.byId.values()].map((m) => ({ ...m }));
  }

  start(): Promise<void> {
    this.starting ??= (async () => {
      this.unsubscribe = this.options.runtime.onExit((info) => this.onExit(info));
      await this.adoptLeftovers();
      await this.reconcile();
      this.resyncTimer = setInterval(() => void this.resync().catch(() => undefined), RESYNC_INTERVAL_MS);
      this.resyncTimer.unref();
    })();
    return this.starting;
  }

  /**
   * Compares the pool with what the runtime lists, in case an exit event was
   * missed (the event stream was down, or a worker died before it was
   * recorded): a member that is gone is handled as an exit and replaced.
   */
  async resync(): Promise<void> {
    if (this.stopping) return;
    const running = new Set((await this.options.runtime.list()).filter((h) => h.running).map((h) => h.workerId));
    for (const m of [...this.byId.values()]) {
      if (m.state !== 'draining' && !running.has(m.workerId)) {
        this.options.logger.warn({ workerId: m.workerId }, 'worker is gone without an exit event; replacing it');
        this.onExit({ workerId: m.workerId, exitCode: null, reason: 'exited' });
      }
    }
  }

  /** Changes the number of regular workers and converges to it. */
  resize(size: number): Promise<void> {
    this.size = size;
    return this.reconcile();
  }

  /**
   * Takes in the latest worker reports: a worker that reports is consuming
   * (starting -> active), and its in-flight count is what the control step
   * sees (spare saturation, scale-down victims).
   */
  observe(reports: readonly WorkerReport[] | undefined, now: number): void {
    const byId = new Map(reports?.map((r) => [r.workerId, r]));
    for (const member of this.byId.values()) {
      const report = byId.get(member.workerId);
      if (report) {
        member.inFlight = report.inFlight;
        if (member.state === 'starting') member.state = 'active';
        if (member.role === 'spare' && report.role === 'worker') member.role = 'worker'; // promoted before this dispatcher started
      } else if (member.state === 'starting' && !reports && now - member.startedAt > (this.options.startupGraceMs ?? 5_000)) {
        member.state = 'active';
      }
    }
  }

  /**
   * Carries out a control step's plan (dispatcher/control/control-step.ts):
   * promotes the spares it names, takes out the workers it names, and starts
   * what is missing; new spares refill the ones promoted.
   */
  apply(plan: Plan): Promise<void> {
    for (const { workerId, saturated } of plan.promote) {
      const spare = this.byId.get(workerId);
      if (spare?.role === 'spare' && spare.state === 'active') this.promote(spare, saturated);
    }
    for (const workerId of plan.retire) {
      const victim = this.byId.get(workerId);
      if (victim && victim.state !== 'draining') this.retire(victim);
    }
    if (plan.promote.some((p) => p.saturated)) this.options.logger.info({ size: plan.decision.desired }, 'spare saturated: promoted to a regular worker; starting a new spare');
    return this.resize(plan.decision.desired);
  }

  /** Makes a spare a regular worker: it is already consuming, so this is the fastest capacity there is. */
  private promote(member: Member, saturated = false): void {
    member.role = 'worker';
    this.emit('event', { type: 'promoted', workerId: member.workerId, role: 'worker', saturated } satisfies PoolEvent);
    void this.options.promote?.(member.workerId).catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err) }, 'could not send promote'));
  }

  /** Workers a crashed run of this pool left behind: keep the running ones, remove the rest. */
  private async adoptLeftovers(): Promise<void> {
    for (const handle of await this.options.runtime.list()) {
      if (this.stopping) return;
      if (handle.running) {
        this.byId.set(handle.workerId, member(handle, 'active'));
        this.options.logger.info({ workerId: handle.workerId, role: handle.role }, 'adopted a running worker');
        this.emit('event', { type: 'adopted', workerId: handle.workerId, role: handle.role } satisfies PoolEvent);
      } else {
        await this.options.runtime.remove(handle.workerId);
        this.options.logger.info({ workerId: handle.workerId }, 'removed a dead worker left from an earlier run');
      }
    }
  }

  /** Serialised, so that two triggers never start duplicate workers. */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.catch(() => undefined).then(() => this.converge());
    return this.reconciling;
  }

  private async converge(): Promise<void> {
    if (this.stopping) return;
    // Which spares to promote and whom to retire is the control step's choice (apply());
    // here the pool only starts what is missing and, after a resize() down, drains the extras.
    const live = [...this.byId.values()].filter((m) => m.state !== 'draining');
    const regular = live.filter((m) => m.role === 'worker');
    const spares = live.filter((m) => m.role === 'spare');

    const toStart: WorkerRole[] = [
      ...Array<WorkerRole>(Math.max(0, this.size - regular.length)).fill('worker'),
      ...Array<WorkerRole>(Math.max(0, this.options.spares - spares.length)).fill('spare'),
    ];
    const waitMs = this.backoff.waitMs(Date.now());
    if (toStart.length > 0 && waitMs > 0) {
      this.scheduleRetry(waitMs); // the autoscaler asks every tick; the backoff still holds
    } else {
      const started = await Promise.all(toStart.map((role) => this.startOne(role)));
      if (started.includes(false)) return;
    }

    for (const victim of pickVictims(regular, regular.length - this.size)) this.retire(this.byId.get(victim.workerId)!);
    for (const victim of pickVictims(spares, spares.length - this.options.spares)) this.retire(this.byId.get(victim.workerId)!);
  }

  private async startOne(role: WorkerRole): Promise<boolean> {
    const proposedId = `${this.options.namespace}-${role}-${randomBytes(3).toString('hex')}`;
    try {
      const handle = await this.options.runtime.start({ workerId: proposedId, role, env: this.options.workerEnv });
      // A runtime may name the worker itself (Swarm names its tasks): the handle's id is the one that counts.
      const workerId = handle.workerId;
      this.byId.set(workerId, member(handle, 'starting'));
      this.options.logger.info({ workerId, role, runtimeId: handle.runtimeId.slice(0, 12) }, 'started a worker');
      this.emit('event', { type: 'started', workerId, role } satisfies PoolEvent);
      return true;
    } catch (err) {
      const delay = this.backoff.startFailed(Date.now());
      this.options.logger.error({ err: errorMessage(err), retryInMs: delay }, 'could not start a worker');
      this.scheduleRetry(delay);
      return false;
    }
  }

  private onExit(info: ExitInfo): void {
    const gone = this.byId.get(info.workerId);
    if (!gone || gone.state === 'draining') return; // a drain we asked for: retire() takes care of it
    this.byId.delete(info.workerId);
    this.emit('event', { type: 'exited', workerId: info.workerId, role: gone.role, exitCode: info.exitCode, reason: info.reason } satisfies PoolEvent);
    this.track(this.options.runtime.remove(info.workerId).catch(() => undefined));
    if (this.stopping) return;
    const delay = this.backoff.exited(Date.now() - gone.startedAt, Date.now());
    this.options.logger.warn({ workerId: info.workerId, exitCode: info.exitCode, reason: info.reason, restartInMs: delay }, 'worker exited; replacing it');
    this.scheduleRetry(delay);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.stopping || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile();
    }, delayMs);
  }

  /**
   * Drains one worker in the background: SIGTERM makes it cancel its consumer
   * and finish and ack what it holds; only then is it removed. It no longer
   * counts as capacity from this moment.
   *
   * A worker still starting is cancelled the same way, with a short grace
   * (STARTING_DRAIN_GRACE_MS), never the full one. The signal is not lost
   * while it boots (containers run under an init process; a worker in
   * start() cancels it), so with nothing in flight it exits within a second.
   * It is not removed outright: "starting" only means no report yet, so it
   * may already hold deliveries, and a kill would cost each one a delivery
   * attempt (on BullMQ, a stall until its lock expires). The short grace
   * bounds a boot that hangs; what it holds past that goes back to the queue.
   */
  private retire(target: Member): void {
    const starting = target.state === 'starting';
    const graceMs = drainGraceMs(starting, this.options.drainGraceMs);
    target.state = 'draining';
    this.emit('event', { type: 'draining', workerId: target.workerId, role: target.role } satisfies PoolEvent);
    this.track((async () => {
      const drain = await drainThenRemove(this.options.runtime, target, graceMs, starting, this.options.logger);
      this.byId.delete(target.workerId);
      this.emit('event', { type: 'removed', workerId: target.workerId, role: target.role, drain } satisfies PoolEvent);
    })());
  }

  private track(work: Promise<void>): void {
    this.retiring.add(work);
    void work.finally(() => this.retiring.delete(work));
  }

  /** Drains and removes every worker of the pool. Same promise on every call. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.retryTimer);
      clearInterval(this.resyncTimer);
      await this.starting?.catch(() => undefined);
      await this.reconciling.catch(() => undefined);
      const live = [...this.byId.values()].filter((m) => m.state !== 'draining');
      this.options.logger.info({ workers: live.length }, 'draining the pool');
      for (const m of live) this.retire(m);
      while (this.retiring.size > 0) await Promise.allSettled([...this.retiring]);
      this.unsubscribe?.();
      const left = await this.options.runtime.list().catch(() => []);
      if (left.length > 0) {
        this.options.logger.error({ left: left.map((h) => h.workerId) }, 'workers of this pool are still there after the drain; removing them');
        await Promise.allSettled(left.map((h) => this.options.runtime.remove(h.workerId)));
      }
    })();
    return this.stopping;
  }
}
