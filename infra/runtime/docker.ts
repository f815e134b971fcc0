import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { ShoalError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_ENGINE_TIMEOUT_MS, engineCall } from './engine-timeout.js';
import type { ExitInfo, WorkerHandle, WorkerRole, WorkerRuntime, WorkerSpec } from './types.js';

/** Labels on every container shoal starts. The pool label is the only way the runtime finds containers. */
export const LABEL_POOL = 'org.shoal.pool';
export const LABEL_ROLE = 'org.shoal.role';
export const LABEL_WORKER_ID = 'org.shoal.worker-id';
export const LABEL_MANAGED_BY = 'org.shoal.managed-by';

/** What both container runtimes (Docker and Swarm) are given. */
export interface ContainerRuntimeOptions {
  docker: Docker;
  /** The pool's namespace: the value of the org.shoal.pool label on its containers (and Swarm services). */
  namespace: string;
  image: string;
  memoryBytes: number;
  cpus: number;
  /** The stop timeout (Swarm: stop grace period): longer than the longest job, so a drain can finish. */
  stopGraceMs: number;
  logger: Logger;
  /** How long one engine call may take (default 30 s); a `stop` also gets its grace. */
  engineTimeoutMs?: number | undefined;
}

export type DockerRuntimeOptions = ContainerRuntimeOptions;

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  Actor?: { Attributes?: Record<string, string> };
}

/**
 * Workers as Docker containers, through dockerode. Each container runs with
 * an init process (so a drain signal is never lost while Node boots),
 * host networking and no published port (workers only connect out), memory
 * and CPU limits, a read-only root filesystem, no capabilities and
 * no-new-privileges; the broker URL comes in by environment. Exits are seen
 * on Docker's event stream, so a crashed or OOM-killed worker is noticed at once.
 *
 * Every lookup goes through the pool label: this runtime never lists, stops
 * or removes a container that is not its own pool's.
 */
export class DockerRuntime implements WorkerRuntime {
  readonly kind = 'docker' as const;
  private readonly events = new EventEmitter();
  private stream: Readable | undefined;
  private closed = false;
  private readonly oomKilled = new Set<string>();

  constructor(private readonly options: DockerRuntimeOptions) {}

  /** One engine call, bounded (see engine-timeout.ts); `extraMs` for calls that wait on purpose. */
  private engine<T>(call: string, run: (abortSignal: AbortSignal) => Promise<T>, extraMs = 0): Promise<T> {
    return engineCall(call, (this.options.engineTimeoutMs ?? DEFAULT_ENGINE_TIMEOUT_MS) + extraMs, run);
  }

  /**
   * Subscribes to the engine's event stream; call before starting workers. If
   * the stream ends (dockerd restarted), it subscribes again with backoff; the
   * pool's periodic resync covers exits that happened in between.
   */
  async watch(): Promise<void> {
    const stream = (await this.options.docker.getEvents({
      filters: { type: ['container'], event: ['die', 'oom'], label: [`${LABEL_POOL}=${this.options.namespace}`] },
    })) as Readable;
    this.stream = stream;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        try {
          this.onEvent(JSON.parse(line) as DockerEvent);
        } catch {
          this.options.logger.warn({ line: line.slice(0, 200) }, 'ignored an unreadable Docker event');
        }
      }
    });
    stream.once('close', () => {
      if (this.closed) return;
      this.options.logger.warn('lost the Docker event stream; resubscribing');
      this.resubscribe(1);
    });
  }

  private resubscribe(attempt: number): void {
    const delay = Math.min(30_000, 500 * 2 ** (attempt - 1));
    setTimeout(() => {
      if (this.closed) return;
      this.watch().catch((err: Error) => {
        this.options.logger.error({ err: err.message, retryInMs: delay * 2 }, 'cannot watch Docker events');
        this.resubscribe(attempt + 1);
      });
    }, delay).unref();
  }

  private onEvent(event: DockerEvent): void {
    const attributes = event.Actor?.Attributes ?? {};
    const workerId = attributes[LABEL_WORKER_ID];
    if (!workerId || attributes[LABEL_POOL] !== this.options.namespace) return;
    const action = event.Action ?? event.status;
    if (action === 'oom') {
      this.oomKilled.add(workerId);
      return;
    }
    if (action !== 'die') return;
    const exitCode = Number(attributes.exitCode ?? NaN);
    const oom = this.oomKilled.delete(workerId);
    const info: ExitInfo = {
      workerId,
      exitCode: Number.isFinite(exitCode) ? exitCode : null,
      reason: oom ? 'oom' : exitCode === 137 ? 'killed' : 'exited',
    };
    this.events.emit('exit', info);
  }

  async list(): Promise<WorkerHandle[]> {
    const containers = await this.engine('listContainers', (abortSignal) =>
      this.options.docker.listContainers({ all: true, filters: { label: [`${LABEL_POOL}=${this.options.namespace}`] }, abortSignal }),
    );
    return containers.map((c) => ({
      workerId: c.Labels[LABEL_WORKER_ID] ?? c.Id,
      role: (c.Labels[LABEL_ROLE] as WorkerRole | undefined) ?? 'worker',
      runtimeId: c.Id,
      running: c.State === 'running',
      startedAt: c.Created * 1000,
    }));
  }

  async start(spec: WorkerSpec): Promise<WorkerHandle> {
    const { docker, namespace, image } = this.options;
    await this.requireImage();
    const env = { ...spec.env, SHOAL_WORKER_ID: spec.workerId, SHOAL_ROLE: spec.role };
    const container = await this.engine(`createContainer ${spec.workerId}`, (abortSignal) => docker.createContainer({
      abortSignal,
      name: spec.workerId,
      Image: image,
      Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
      Labels: {
        [LABEL_POOL]: namespace,
        [LABEL_ROLE]: spec.role,
        [LABEL_WORKER_ID]: spec.workerId,
        [LABEL_MANAGED_BY]: 'shoal-dispatcher',
      },
      StopSignal: 'SIGTERM',
      StopTimeout: Math.ceil(this.options.stopGraceMs / 1000),
      HostConfig: {
        // An init process (tini) is PID 1 and forwards signals to Node. Node as
        // PID 1 has no default signal actions: a SIGTERM that came before its
        // handler was installed (a worker drained while it boots) was lost,
        // and the container sat until the stop timeout killed it (exit 137).
        Init: true,
        NetworkMode: 'host',
        Memory: this.options.memoryBytes,
        NanoCpus: Math.round(this.options.cpus * 1e9),
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
      },
    }));
    try {
      await this.engine(`start container ${spec.workerId}`, (abortSignal) => container.start({ abortSignal }));
    } catch (err) {
      await this.engine(`remove container ${spec.workerId}`, (abortSignal) => container.remove({ force: true, abortSignal })).catch(() => undefined);
      throw new ShoalError('START_FAILED', `could not start worker container ${spec.workerId}: ${(err as Error).message}`, { cause: err });
    }
    return { workerId: spec.workerId, role: spec.role, runtimeId: container.id, running: true, startedAt: Date.now() };
  }

  async drain(workerId: string, graceMs: number): Promise<ExitInfo> {
    const container = this.options.docker.getContainer(await this.containerId(workerId));
    // docker stop: SIGTERM (the worker drains), then SIGKILL after the grace period.
    const seconds = Math.ceil(graceMs / 1000);
    await this.engine(`stop container ${workerId}`, (abortSignal) => container.stop({ t: seconds, abortSignal }), seconds * 1000).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err; // 304: already stopped
    });
    const state = (await this.engine(`inspect container ${workerId}`, (abortSignal) => container.inspect({ abortSignal }))).State;
    return { workerId, exitCode: state.ExitCode, reason: state.OOMKilled ? 'oom' : state.ExitCode === 137 ? 'killed' : 'exited' };
  }

  async remove(workerId: string): Promise<void> {
    const id = await this.containerId(workerId).catch((err: unknown) => {
      if (err instanceof ShoalError && err.code === 'UNKNOWN_WORKER') return undefined; // already gone
      throw err;
    });
    if (!id) return;
    await this.engine(`remove container ${workerId}`, (abortSignal) => this.options.docker.getContainer(id).remove({ force: true, abortSignal })).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404 && err.statusCode !== 409) throw err; // gone, or removal already under way
    });
  }

  onExit(listener: (info: ExitInfo) => void): () => void {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.closed = true;
      this.events.removeAllListeners();
      this.stream?.destroy();
    })();
    return this.closeOnce;
  }

  /** The id of this pool's container for a worker; refuses anything without the pool label. */
  private async containerId(workerId: string): Promise<string> {
    const [match] = await this.engine(`listContainers for worker ${workerId}`, (abortSignal) => this.options.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_POOL}=${this.options.namespace}`, `${LABEL_WORKER_ID}=${workerId}`] },
      abortSignal,
    }));
    if (!match) throw new ShoalError('UNKNOWN_WORKER', `no container of pool ${this.options.namespace} for worker ${workerId}`);
    return match.Id;
  }

  requireImage(): Promise<void> {
    return requireImage(this.options.docker, this.options.image, this.options.engineTimeoutMs);
  }
}

/** Fails with the command that builds the worker image when the engine does not have it. */
export async function requireImage(docker: Docker, image: string, timeoutMs = DEFAULT_ENGINE_TIMEOUT_MS): Promise<void> {
  try {
    // dockerode's image inspect takes no abort signal: the timeout still ends the wait.
    await engineCall(`inspect image ${image}`, timeoutMs, () => docker.getImage(image).inspect());
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      throw new ShoalError('IMAGE_MISSING', `worker image ${image} not found; build it with: npm run image`, { cause: err });
    }
    throw err;
  }
}

/** Removes every container of one pool, and nothing else; says how many it removed and which it could not. */
export async function removePoolContainers(docker: Docker, namespace: string, timeoutMs = DEFAULT_ENGINE_TIMEOUT_MS): Promise<Removal> {
  const containers = await engineCall('listContainers', timeoutMs, (abortSignal) => docker.listContainers({ all: true, filters: { label: [`${LABEL_POOL}=${namespace}`] }, abortSignal }));
  // 409: its removal is already under way (Swarm removes a removed service's containers itself).
  return removeEach(containers.map((c) => {
    const name = c.Names[0]?.replace(/^\//, '') ?? c.Id;
    return { name, remove: () => engineCall(`remove container ${name}`, timeoutMs, (abortSignal) => docker.getContainer(c.Id).remove({ force: true, abortSignal })) };
  }), [404, 409]);
}

/** What a clean-up removed, and what it could not remove and why. */
export interface Removal {
  /** Objects this call removed; ones already gone are not counted. */
  removed: number;
  failed: { name: string; error: string }[];
}

/** Tries every removal; an error with a status in `gone` means the object is already gone (or going). */
export async function removeEach(items: { name: string; remove: () => Promise<unknown> }[], gone: readonly number[]): Promise<Removal> {
  const outcomes = await Promise.all(
    items.map(({ name, remove }) =>
      remove().then(
        () => 'removed' as const,
        (err: { statusCode?: number; message?: string }) => (gone.includes(err.statusCode ?? 0) ? ('gone' as const) : { name, error: err.message ?? String(err) }),
      ),
    ),
  );
  return {
    removed: outcomes.filter((o) => o === 'removed').length,
    failed: outcomes.filter((o): o is { name: string; error: string } => typeof o === 'object'),
  };
}
