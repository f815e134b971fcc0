import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { SwarmRuntime } from '../../infra/runtime/swarm.js';
import { currentTasks, exitInfoOf, handleOf, serviceNameProblem, serviceSpec, taskTemplateDrift, workerIdOf, workerIdTemplate, type SwarmTask } from '../../infra/runtime/swarm-spec.js';

function task(id: string, slot: number, state: string, desired = 'running', createdAt = '2026-01-01T00:00:00Z', exitCode?: number): SwarmTask {
  return { ID: id, ServiceID: 'svc', Slot: slot, CreatedAt: createdAt, DesiredState: desired, Status: { State: state, ContainerStatus: { ContainerID: `c-${id}`, ExitCode: exitCode } } };
}

describe('Swarm service spec and task mapping (pure)', () => {
  it('names each worker by its slot and the start of its task id, as the env template does', () => {
    expect(workerIdTemplate('shoal', 'worker')).toBe('shoal-worker-{{.Task.Slot}}-{{printf "%.6s" .Task.ID}}');
    expect(workerIdOf('shoal', 'spare', task('kq1x8ab2cd3ef', 3, 'running'))).toBe('shoal-spare-3-kq1x8a');
  });

  it('builds a replicated service at 0 replicas: labels, host network, limits, grace, restart none, no capabilities', () => {
    const spec = serviceSpec({ namespace: 'ns', role: 'spare', image: 'img', env: { SHOAL_AMQP_URL: 'amqp://x' }, memoryBytes: 256 * 2 ** 20, cpus: 0.5, stopGraceMs: 30_000 }) as {
      Name: string; Labels: Record<string, string>; Mode: unknown;
      TaskTemplate: { ContainerSpec: { Env: string[]; StopGracePeriod: number; CapabilityDrop: string[]; ReadOnly: boolean; Labels: Record<string, string> }; Networks: unknown; RestartPolicy: unknown; Resources: unknown };
    };
    expect(spec.Name).toBe('ns-spare');
    expect(spec.Labels).toEqual({ 'org.shoal.pool': 'ns', 'org.shoal.role': 'spare', 'org.shoal.managed-by': 'shoal-dispatcher' });
    expect(spec.TaskTemplate.ContainerSpec.Labels).toEqual(spec.Labels);
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 0 } });
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'host' }]);
    expect(spec.TaskTemplate.RestartPolicy).toEqual({ Condition: 'none' });
    expect(spec.TaskTemplate.Resources).toEqual({ Limits: { MemoryBytes: 256 * 2 ** 20, NanoCPUs: 5e8 } });
    expect(spec.TaskTemplate.ContainerSpec).toMatchObject({ StopGracePeriod: 30e9, CapabilityDrop: ['ALL'], ReadOnly: true, Init: true });
    expect(spec.TaskTemplate.ContainerSpec.Env).toEqual(expect.arrayContaining(['SHOAL_AMQP_URL=amqp://x', 'SHOAL_ROLE=spare', `SHOAL_WORKER_ID=${workerIdTemplate('ns', 'spare')}`]));
  });

  it('with a secret, the broker URL is a file and not in the environment', () => {
    const spec = serviceSpec({ namespace: 'ns', role: 'worker', image: 'img', env: { SHOAL_AMQP_URL: 'amqp://x' }, memoryBytes: 1, cpus: 1, stopGraceMs: 1, amqpUrlSecret: { id: 'sid', name: 'shoal_amqp_url' } }) as {
      TaskTemplate: { ContainerSpec: { Env: string[]; Secrets: unknown[] } };
    };
    expect(spec.TaskTemplate.ContainerSpec.Env).toContain('SHOAL_AMQP_URL_FILE=/run/secrets/shoal_amqp_url');
    expect(spec.TaskTemplate.ContainerSpec.Env.some((e) => e.startsWith('SHOAL_AMQP_URL='))).toBe(false);
    expect(spec.TaskTemplate.ContainerSpec.Secrets).toEqual([{ SecretID: 'sid', SecretName: 'shoal_amqp_url', File: { Name: 'shoal_amqp_url', UID: '10001', GID: '10001', Mode: 0o400 } }]);
  });

  it('with a Redis URL secret too, neither URL is in the environment and both secrets are mounted', () => {
    const spec = serviceSpec({
      namespace: 'ns', role: 'worker', image: 'img', env: { SHOAL_AMQP_URL: 'amqp://x', SHOAL_REDIS_URL: 'redis://:pw@r:6379' }, memoryBytes: 1, cpus: 1, stopGraceMs: 1,
      amqpUrlSecret: { id: 'a', name: 'shoal_amqp_url' }, redisUrlSecret: { id: 'r', name: 'shoal_redis_url' },
    }) as { TaskTemplate: { ContainerSpec: { Env: string[]; Secrets: { SecretName: string }[] } } };
    const env = spec.TaskTemplate.ContainerSpec.Env;
    expect(env).toEqual(expect.arrayContaining(['SHOAL_AMQP_URL_FILE=/run/secrets/shoal_amqp_url', 'SHOAL_REDIS_URL_FILE=/run/secrets/shoal_redis_url']));
    expect(env.some((e) => /^SHOAL_(AMQP|REDIS)_URL=/.test(e) || e.includes('pw'))).toBe(false);
    expect(spec.TaskTemplate.ContainerSpec.Secrets.map((s) => s.SecretName)).toEqual(['shoal_amqp_url', 'shoal_redis_url']);
  });

  it('a Redis URL secret alone leaves the broker URL in the environment', () => {
    const spec = serviceSpec({
      namespace: 'ns', role: 'worker', image: 'img', env: { SHOAL_AMQP_URL: 'amqp://x', SHOAL_REDIS_URL: 'redis://r' }, memoryBytes: 1, cpus: 1, stopGraceMs: 1,
      redisUrlSecret: { id: 'r', name: 'shoal_redis_url' },
    }) as { TaskTemplate: { ContainerSpec: { Env: string[] } } };
    expect(spec.TaskTemplate.ContainerSpec.Env).toEqual(expect.arrayContaining(['SHOAL_AMQP_URL=amqp://x', 'SHOAL_REDIS_URL_FILE=/run/secrets/shoal_redis_url']));
    expect(spec.TaskTemplate.ContainerSpec.Env.some((e) => e.startsWith('SHOAL_REDIS_URL='))).toBe(false);
  });

  it('tells which settings of an existing service differ from the ones this dispatcher would create', () => {
    const base = { namespace: 'ns', role: 'worker' as const, image: 'img:1', env: { SHOAL_CONCURRENCY: '4', SHOAL_TRANSPORT: 'rabbitmq' }, memoryBytes: 256, cpus: 1, stopGraceMs: 30_000 };
    const current = serviceSpec(base);
    expect(taskTemplateDrift(current, serviceSpec(base))).toEqual([]);
    // Swarm may pin the image to a digest, and keeps env order as it was: neither is a difference.
    const pinned = serviceSpec(base) as { TaskTemplate: { ContainerSpec: { Image: string; Env: string[] } } };
    pinned.TaskTemplate.ContainerSpec.Image = 'img:1@sha256:0123abcd';
    pinned.TaskTemplate.ContainerSpec.Env.reverse();
    expect(taskTemplateDrift(pinned, serviceSpec(base))).toEqual([]);
    expect(taskTemplateDrift(current, serviceSpec({ ...base, env: { ...base.env, SHOAL_CONCURRENCY: '8' } }))).toEqual(['environment']);
    expect(taskTemplateDrift(current, serviceSpec({ ...base, image: 'img:2', memoryBytes: 512, stopGraceMs: 5000 }))).toEqual([
      'image img:1 -> img:2',
      'limits [["MemoryBytes",256],["NanoCPUs",1000000000]] -> [["MemoryBytes",512],["NanoCPUs",1000000000]]',
      'stop grace period',
    ]);
    expect(taskTemplateDrift(current, serviceSpec({ ...base, redisUrlSecret: { id: 'r', name: 'shoal_redis_url' } }))).toEqual(['environment', 'secrets']);
    // A service made before workers ran under an init process is updated to one.
    const withoutInit = serviceSpec(base) as { TaskTemplate: { ContainerSpec: { Init?: boolean } } };
    delete withoutInit.TaskTemplate.ContainerSpec.Init;
    expect(taskTemplateDrift(withoutInit, serviceSpec(base))).toEqual(['init process']);
  });

  it('a worker is the newest task of a slot that a scale-down has not taken', () => {
    const tasks = [
      task('old', 1, 'complete', 'shutdown', '2026-01-01T00:00:00Z'),
      task('new', 1, 'running', 'running', '2026-01-01T00:01:00Z'),
      task('gone', 2, 'shutdown', 'remove'),
      task('dead', 3, 'failed', 'shutdown'),
    ];
    expect(currentTasks(tasks).map((t) => t.ID).sort()).toEqual(['dead', 'new']);
    expect(handleOf('ns', 'worker', tasks[1]!)).toMatchObject({ workerId: 'ns-worker-1-new', runtimeId: 'new', running: true });
    expect(handleOf('ns', 'worker', tasks[3]!).running).toBe(false);
  });

  it('tells a drained exit from a kill and an OOM kill', () => {
    expect(exitInfoOf('w', task('a', 1, 'complete', 'shutdown', undefined, 0))).toEqual({ workerId: 'w', exitCode: 0, reason: 'exited' });
    expect(exitInfoOf('w', task('a', 1, 'failed', 'shutdown', undefined, 137))).toEqual({ workerId: 'w', exitCode: 137, reason: 'killed' });
    const oom = task('a', 1, 'failed', 'shutdown', undefined, 137);
    oom.Status.Err = 'task: non-zero exit (137): OOMKilled';
    expect(exitInfoOf('w', oom).reason).toBe('oom');
  });

  it('refuses a namespace that cannot name a Swarm service', () => {
    expect(serviceNameProblem('shoal')).toBeUndefined();
    expect(serviceNameProblem('test-2b6a1f0e-1b1d-4a5e-9f8e-0c2d9b7f1a2b')).toBeUndefined();
    expect(serviceNameProblem('my.pool')).toContain('choose a --namespace without "."');
    expect(serviceNameProblem('a'.repeat(60))).toContain('at most 63 characters');
  });
});

describe('the Swarm runtime refuses an engine that is not a swarm manager', () => {
  const engine = (swarm: object) => ({ info: async () => ({ Swarm: swarm }) }) as unknown as Docker;

  it('names the state and the command that makes one', async () => {
    await expect(SwarmRuntime.requireManager(engine({ LocalNodeState: 'inactive', ControlAvailable: false }))).rejects.toThrow(
      '--runtime swarm needs a Docker engine that is a swarm manager (this one: swarm state: inactive). Run `docker swarm init --advertise-addr 127.0.0.1`',
    );
    await expect(SwarmRuntime.requireManager(engine({ LocalNodeState: 'active', ControlAvailable: false }))).rejects.toThrow('this one: a worker node of a swarm, not a manager');
    await expect(SwarmRuntime.requireManager(engine({ LocalNodeState: 'active', ControlAvailable: true }))).resolves.toBeUndefined();
  });
});
