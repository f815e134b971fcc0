import type { SecretUrlVariable } from '../config.js';
import { LABEL_MANAGED_BY, LABEL_POOL, LABEL_ROLE } from './docker.js';
import type { ExitInfo, WorkerHandle, WorkerRole } from './types.js';

/**
 * The pure half of the Swarm runtime: service specs, and how a task maps to a
 * worker. No I/O here; swarm.ts does the calls.
 */

/** What the Engine API returns for a task, as far as shoal reads it. */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
}

/** What the Engine API returns for a service, as far as shoal reads it. */
export interface SwarmService {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string>; Mode?: { Replicated?: { Replicas?: number } } } & Record<string, unknown>;
}

/** Task states after which a task never runs again (swarmkit's TaskState order). */
const ENDED_STATES = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

export function hasEnded(task: SwarmTask): boolean {
  return ENDED_STATES.has(task.Status.State);
}

/** Swarm service names are DNS labels: letters, digits, "-" and "_", at most 63 characters. */
const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/** The reason a namespace cannot name Swarm services, or undefined when it can. */
export function serviceNameProblem(namespace: string): string | undefined {
  const longest = serviceName(namespace, 'worker');
  if (SERVICE_NAME.test(longest) && longest.length <= 63) return undefined;
  return `the Swarm runtime names its services <namespace>-worker and <namespace>-spare, which must be DNS labels: letters, digits, "-" or "_", at most 63 characters (got ${JSON.stringify(longest)}); choose a --namespace without "." of at most 56 characters`;
}

/** One service per role: `<namespace>-worker` holds the regular workers, `<namespace>-spare` the warm spares. */
export function serviceName(namespace: string, role: WorkerRole): string {
  return `${namespace}-${role}`;
}

/**
 * Each task names itself: Swarm expands Go templates in a service's
 * environment per task. The slot makes the id readable, the task id's first
 * six characters make it unique (a slot is reused after a scale-down).
 * `slice` cannot be used: Swarm validates the template against an empty task id.
 */
export function workerIdTemplate(namespace: string, role: WorkerRole): string {
  return `${serviceName(namespace, role)}-{{.Task.Slot}}-{{printf "%.6s" .Task.ID}}`;
}

/** The id the template above gives a task, computed on the dispatcher's side. */
export function workerIdOf(namespace: string, role: WorkerRole, task: SwarmTask): string {
  return `${serviceName(namespace, role)}-${task.Slot ?? 0}-${task.ID.slice(0, 6)}`;
}

export interface ServiceSpecOptions {
  namespace: string;
  role: WorkerRole;
  image: string;
  env: Record<string, string>;
  memoryBytes: number;
  cpus: number;
  /** Swarm's stop grace period: longer than the longest job, so a drain can finish. */
  stopGraceMs: number;
  /** A Swarm secret holding the broker URL, mounted at /run/secrets/<name> instead of SHOAL_AMQP_URL. */
  amqpUrlSecret?: SecretRef;
  /** A Swarm secret holding the Redis URL (it may hold a password too), instead of SHOAL_REDIS_URL. */
  redisUrlSecret?: SecretRef;
}

export interface SecretRef {
  id: string;
  name: string;
}

/** The labels of the pool's services and of every container they run. */
export function poolLabels(namespace: string, role: WorkerRole): Record<string, string> {
  return { [LABEL_POOL]: namespace, [LABEL_ROLE]: role, [LABEL_MANAGED_BY]: 'shoal-dispatcher' };
}

/**
 * A replicated service of workers, created at 0 replicas. Like the Docker
 * runtime's containers: an init process, host networking and no published port (workers only
 * connect out, to the broker at 127.0.0.1 on their node), memory and CPU
 * limits, a read-only root with a tmpfs on /tmp, no capabilities. Restart
 * policy "none": a drained task stays completed and a crashed one stays
 * failed, so the dispatcher, not Swarm, decides about replacements (with its
 * backoff), exactly as with the Docker runtime.
 */
export function serviceSpec(options: ServiceSpecOptions): Record<string, unknown> {
  const { namespace, role } = options;
  const env: Record<string, string> = { ...options.env, SHOAL_ROLE: role, SHOAL_WORKER_ID: workerIdTemplate(namespace, role) };
  const secrets = [];
  const bySecret: [SecretUrlVariable, SecretRef | undefined][] = [['SHOAL_AMQP_URL', options.amqpUrlSecret], ['SHOAL_REDIS_URL', options.redisUrlSecret]];
  for (const [variable, secret] of bySecret) {
    if (!secret) continue;
    // The worker reads <VARIABLE>_FILE (withUrlFiles), so the URL is never in the service spec.
    delete env[variable];
    env[`${variable}_FILE`] = `/run/secrets/${secret.name}`;
    secrets.push({ SecretID: secret.id, SecretName: secret.name, File: { Name: secret.name, UID: '10001', GID: '10001', Mode: 0o400 } });
  }
  const labels = poolLabels(namespace, role);
  return {
    Name: serviceName(namespace, role),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: options.image,
        Labels: labels,
        Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
        ReadOnly: true,
        Mounts: [{ Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 16 * 1024 * 1024 } }],
        CapabilityDrop: ['ALL'],
        // An init process as PID 1, as with the Docker runtime: a SIGTERM that reaches a
        // task while Node still boots is not lost (Swarm stops the tasks it scales away
        // with SIGTERM). Engine API 1.37 or later.
        Init: true,
        StopSignal: 'SIGTERM',
        StopGracePeriod: options.stopGraceMs * 1_000_000, // nanoseconds
        Secrets: secrets,
      },
      Resources: { Limits: { MemoryBytes: options.memoryBytes, NanoCPUs: Math.round(options.cpus * 1e9) } },
      RestartPolicy: { Condition: 'none' },
      Networks: [{ Target: 'host' }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '2' } },
    },
    Mode: { Replicated: { Replicas: 0 } },
  };
}

interface TaskTemplateView {
  ContainerSpec?: { Image?: string; Env?: string[]; Init?: boolean; StopGracePeriod?: number; Secrets?: { SecretName?: string; File?: { Name?: string } }[] };
  Resources?: { Limits?: Record<string, unknown> };
}

/**
 * What differs between the task template a service has and the one this
 * dispatcher would create: the image, the environment, the limits, the stop
 * grace period, the init process and the secrets. Empty when they agree. A digest Swarm pinned
 * to the image (`img:tag@sha256:...`) is no difference.
 */
export function taskTemplateDrift(current: Record<string, unknown>, desired: Record<string, unknown>): string[] {
  const a = (current.TaskTemplate ?? {}) as TaskTemplateView;
  const b = (desired.TaskTemplate ?? {}) as TaskTemplateView;
  const image = (t: TaskTemplateView) => (t.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
  const env = (t: TaskTemplateView) => JSON.stringify([...(t.ContainerSpec?.Env ?? [])].sort());
  const limits = (t: TaskTemplateView) => JSON.stringify(Object.entries(t.Resources?.Limits ?? {}).sort());
  const secrets = (t: TaskTemplateView) => JSON.stringify((t.ContainerSpec?.Secrets ?? []).map((s) => `${s.SecretName}:${s.File?.Name}`).sort());
  const drift: string[] = [];
  if (image(a) !== image(b)) drift.push(`image ${image(a)} -> ${image(b)}`);
  if (env(a) !== env(b)) drift.push('environment');
  if (limits(a) !== limits(b)) drift.push(`limits ${limits(a)} -> ${limits(b)}`);
  if ((a.ContainerSpec?.StopGracePeriod ?? 0) !== (b.ContainerSpec?.StopGracePeriod ?? 0)) drift.push('stop grace period');
  if ((a.ContainerSpec?.Init ?? false) !== (b.ContainerSpec?.Init ?? false)) drift.push('init process');
  if (secrets(a) !== secrets(b)) drift.push('secrets');
  return drift;
}

/**
 * The tasks that stand for workers: per slot the newest task, leaving out
 * slots that a scale-down already took (desired state "remove").
 */
export function currentTasks(tasks: readonly SwarmTask[]): SwarmTask[] {
  const newest = new Map<string, SwarmTask>();
  for (const task of tasks) {
    if (task.DesiredState === 'remove') continue;
    const key = `${task.ServiceID}/${task.Slot ?? task.ID}`;
    const seen = newest.get(key);
    if (!seen || (task.CreatedAt ?? '') > (seen.CreatedAt ?? '')) newest.set(key, task);
  }
  return [...newest.values()];
}

export function handleOf(namespace: string, role: WorkerRole, task: SwarmTask): WorkerHandle {
  return {
    workerId: workerIdOf(namespace, role, task),
    role,
    runtimeId: task.ID,
    running: task.Status.State === 'running' && task.DesiredState === 'running',
    startedAt: task.CreatedAt ? Date.parse(task.CreatedAt) : Date.now(),
  };
}

export function exitInfoOf(workerId: string, task: SwarmTask): ExitInfo {
  const exitCode = task.Status.ContainerStatus?.ExitCode ?? null;
  const oom = /oom/i.test(task.Status.Err ?? '');
  return { workerId, exitCode, reason: oom ? 'oom' : exitCode === 137 ? 'killed' : 'exited' };
}
