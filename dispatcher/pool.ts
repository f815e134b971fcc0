import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import type { WorkerReport } from '../infra/protocol.js';
import type { ExitInfo, WorkerHandle, WorkerRole, WorkerRuntime } from '../infra/runtime/types.js';
import type { PoolView } from './policy/types.js';

export interface PoolOptions {
  runtime: WorkerRuntime;
  namespace: string;
  /** Regular workers to start with. */
  size: number;
  /** Regular workers never exceed this, a promoted spare included. */
  max: number;
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
  /** Requests one worker runs at once: a spare with this many in flight is saturated. */
  concurrency: number;
  /** A spare is promoted after it has been saturated in this many observations in a row. */
  promoteAfter?: number;
}

export type MemberState = 'starting' | 'active' | 'draining';

export interface Member {
  workerId: string;
  role: WorkerRole;
  state: MemberState;
  inFlight: number;
  startedAt: number;
  runtimeId: string;
  /** Observations in a row in which a spare had every slot busy. */
  busyStreak: number;
}

export type PoolEvent =
  | { type: 'started' | 'adopted' | 'draining' | 'removed'; workerId: string; role: WorkerRole }
  /** `saturated`: the spare filled up on its own; otherwise the policy asked for more workers. */
  | { type: 'promoted'; workerId: string; role: WorkerRole; saturated: boolean }
  | { type: 'exited'; workerId: string; role: WorkerRole; exitCode: number | null; reason: string };

/** How often the pool checks itself against the runtime's list. */
const RESYNC_INTERVAL_MS = 5_000;

/** A worker that lived shorter than this counts as a failed start. */
const HEALTHY_LIFETIME_MS = 10_000;

/**
 * Backoff between restarts after consecutive failed starts, so a worker that
 * cannot start (bad image, bad config) does not crash-loop the host.
 */
export function restartDelayMs(consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  return Math.min(30_000, 500 * 2 ** (consecutiveFailures - 1));
}

/**
 * Owns the workers of one pool through a WorkerRuntime: keeps `size` regular
 * workers and `spares` warm spares, replaces ones that die, promotes a spare
 * that starts taking work, and scales down by draining the least busy worker
 * (it finishes and acks what it holds) before removing it. Emits 'event' with
 * a PoolEvent for every change.
 */
export class Pool extends EventEmitter {
  private readonly members = new Map<string, Member>();
  private readonly retiring = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** No new worker starts before this time: the backoff after failed starts, whoever asks. */
  private backoffUntil = 0;
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private size: number;

  constructor(private readonly options: PoolOptions) {
    super();
    this.size = options.size;
  }

  get workerIds(): string[] {
    return [...this.members.keys()];
  }

  /** The pool as the policy sees it: regular workers by state, and the spares that are consuming. Draining workers are not capacity. */
  view(): PoolView {
    let active = 0;
    let starting = 0;
    let spares = 0;
    for (const m of this.members.values()) {
      if (m.state !== 'active' && m.state !== 'starting') continue;
      if (m.role === 'spare') spares += m.state === 'active' ? 1 : 0;
      else if (m.state === 'active') active++;
      else starting++;
    }
    return { active, starting, spares };
  }

  snapshot(): Member[] {
    return [...this.members.values()].map((m) => ({ ...m }));
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
    for (const m of [...this.members.values()]) {
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
   * (starting -> active), its in-flight count picks scale-down victims, and a
   * spare that has taken work is promoted.
   */
  observe(reports: readonly WorkerReport[] | undefined, now: number): void {
    const byId = new Map(reports?.map((r) => [r.workerId, r]));
    for (const member of this.members.values()) {
      const report = byId.get(member.workerId);
      if (report) {
        // Some overflow is a spare's job; a spare whose every slot is busy means the pool is short.
        member.busyStreak = report.inFlight >= this.options.concurrency ? member.busyStreak + 1 : 0;
        member.inFlight = report.inFlight;
        if (member.state === 'starting') member.state = 'active';
        if (member.role === 'spare' && member.state === 'active') {
          if (report.role === 'worker') member.role = 'worker'; // promoted before this dispatcher started
          else if (member.busyStreak >= (this.options.promoteAfter ?? 3) && this.size < this.options.max) this.promoteSaturated(member);
        }
      } else if (member.state === 'starting' && !reports && now - member.startedAt > (this.options.startupGraceMs ?? 5_000)) {
        member.state = 'active';
      }
    }
  }

  /** A saturated spare: the load is above what the pool carries. It becomes a regular worker, and a new spare starts. */
  private promoteSaturated(member: Member): void {
    this.size++;
    this.options.logger.info({ workerId: member.workerId, size: this.size }, 'spare saturated: promoted to a regular worker; starting a new spare');
    this.promote(member, true);
    void this.reconcile();
  }

  /** Makes a spare a regular worker: it is already consuming, so this is the fastest capacity there is. */
  private promote(member: Member, saturated = false): void {
    member.role = 'worker';
    member.busyStreak = 0;
    this.emit('event', { type: 'promoted', workerId: member.workerId, role: 'worker', saturated } satisfies PoolEvent);
    void this.options.promote?.(member.workerId).catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err) }, 'could not send promote'));
  }

  /** Workers a crashed run of this pool left behind: keep the running ones, remove the rest. */
  private async adoptLeftovers(): Promise<void> {
    for (const handle of await this.options.runtime.list()) {
      if (this.stopping) return;
      if (handle.running) {
        this.members.set(handle.workerId, member(handle, 'active'));
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
    const live = [...this.members.values()].filter((m) => m.state !== 'draining');
    const regular = live.filter((m) => m.role === 'worker');
    let spares = live.filter((m) => m.role === 'spare');

    // Growing: ready spares become regular workers first, then new ones start (spares are refilled below).
    for (const spare of spares.filter((m) => m.state === 'active').slice(0, Math.max(0, this.size - regular.length))) {
      this.promote(spare);
      regular.push(spare);
    }
    spares = spares.filter((m) => m.role === 'spare');

    const toStart: WorkerRole[] = [
      ...Array<WorkerRole>(Math.max(0, this.size - regular.length)).fill('worker'),
      ...Array<WorkerRole>(Math.max(0, this.options.spares - spares.length)).fill('spare'),
    ];
    const waitMs = this.backoffUntil - Date.now();
    if (toStart.length > 0 && waitMs > 0) {
      this.scheduleRetry(waitMs); // the autoscaler asks every tick; the backoff still holds
    } else {
      const started = await Promise.all(toStart.map((role) => this.startOne(role)));
      if (started.includes(false)) return;
    }

    for (const victim of pickVictims(regular, regular.length - this.size)) this.retire(victim);
    for (const victim of pickVictims(spares, spares.length - this.options.spares)) this.retire(victim);
  }

  private async startOne(role: WorkerRole): Promise<boolean> {
    const proposedId = `${this.options.namespace}-${role}-${randomBytes(3).toString('hex')}`;
    try {
      const handle = await this.options.runtime.start({ workerId: proposedId, role, env: this.options.workerEnv });
      // A runtime may name the worker itself (Swarm names its tasks): the handle's id is the one that counts.
      const workerId = handle.workerId;
      this.members.set(workerId, member(handle, 'starting'));
      this.options.logger.info({ workerId, role, runtimeId: handle.runtimeId.slice(0, 12) }, 'started a worker');
      this.emit('event', { type: 'started', workerId, role } satisfies PoolEvent);
      return true;
    } catch (err) {
      this.failures++;
      const delay = restartDelayMs(this.failures);
      this.backoffUntil = Date.now() + delay;
      this.options.logger.error({ err: errorMessage(err), retryInMs: delay }, 'could not start a worker');
      this.scheduleRetry(delay);
      return false;
    }
  }

  private onExit(info: ExitInfo): void {
    const gone = this.members.get(info.workerId);
    if (!gone || gone.state === 'draining') return; // a drain we asked for: retire() takes care of it
    this.members.delete(info.workerId);
    this.emit('event', { type: 'exited', workerId: info.workerId, role: gone.role, exitCode: info.exitCode, reason: info.reason } satisfies PoolEvent);
    this.track(this.options.runtime.remove(info.workerId).catch(() => undefined));
    if (this.stopping) return;
    const lived = Date.now() - gone.startedAt;
    this.failures = lived < HEALTHY_LIFETIME_MS ? this.failures + 1 : 0;
    const delay = restartDelayMs(this.failures);
    this.backoffUntil = Date.now() + delay;
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
   */
  private retire(target: Member): void {
    target.state = 'draining';
    this.emit('event', { type: 'draining', workerId: target.workerId, role: target.role } satisfies PoolEvent);
    this.track((async () => {
      try {
        const info = await this.options.runtime.drain(target.workerId, this.options.drainGraceMs);
        this.options.logger.info({ workerId: target.workerId, exitCode: info.exitCode, reason: info.reason, inFlightAtDrain: target.inFlight }, 'worker drained');
      } catch (err) {
        this.options.logger.warn({ workerId: target.workerId, err: errorMessage(err) }, 'drain failed; removing the worker');
      } finally {
        await this.options.runtime.remove(target.workerId).catch((err: unknown) =>
          this.options.logger.error({ workerId: target.workerId, err: errorMessage(err) }, 'could not remove a worker; `npm run cleanup` removes what is left'),
        );
        this.members.delete(target.workerId);
        this.emit('event', { type: 'removed', workerId: target.workerId, role: target.role } satisfies PoolEvent);
      }
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
      const live = [...this.members.values()].filter((m) => m.state !== 'draining');
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

function member(handle: WorkerHandle, state: MemberState): Member {
  return { workerId: handle.workerId, role: handle.role, state, inFlight: 0, startedAt: handle.startedAt, runtimeId: handle.runtimeId, busyStreak: 0 };
}

/** Which workers to drain first: those still starting (no work yet), then the least busy. */
export function pickVictims(candidates: readonly Member[], count: number): Member[] {
  if (count <= 0) return [];
  const order = (m: Member) => (m.state === 'starting' ? -1 : m.inFlight);
  return [...candidates].sort((a, b) => order(a) - order(b)).slice(0, count);
}
