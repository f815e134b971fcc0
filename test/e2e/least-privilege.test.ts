import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { DockerRuntime, LABEL_POOL } from '../../infra/runtime/docker.js';
import { AMQP_URL, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';

const WORKER_UID = '10001';

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `docker exec` through the engine API: runs a command in a running container and collects its output. */
async function execIn(container: Dockerode.Container, cmd: string[], user?: string): Promise<ExecResult> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, ...(user === undefined ? {} : { User: user }) });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
  await once(stream, 'end');
  const { ExitCode } = await exec.inspect();
  return { code: ExitCode ?? null, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Fields of /proc/<pid>/status, e.g. {Uid: '10001\t10001\t10001\t10001', CapEff: '0000000000000000'}. */
function parseProcStatus(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

/**
 * A worker container as the Docker runtime starts it, checked on the real
 * container and its real process, not only on the settings we asked for:
 * unprivileged, read-only, no capabilities, no ports, and no credentials
 * baked into the image.
 */
describe('worker container least privilege', () => {
  const namespace = newNamespace();
  const runtime = new DockerRuntime({ docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger: pino({ level: 'silent' }) });
  let container: Dockerode.Container;
  let info: Dockerode.ContainerInspectInfo;

  beforeAll(async () => {
    const handle = await runtime.start({
      workerId: `${namespace}-lp`,
      role: 'worker',
      env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_LOG_LEVEL: 'warn' },
    });
    container = docker.getContainer(handle.runtimeId);
    // Consuming means it got its credentials and is doing real work, under all these restrictions.
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);
    info = await container.inspect();
  });

  afterAll(async () => {
    for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
    // Anything else of this pool only (by its label), should a step above have failed half way.
    for (const c of await poolContainers(namespace)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    expect(await poolContainers(namespace)).toEqual([]);
    await runtime.close();
    await removeNamespace(namespace);
  });

  it('is labelled with its pool, so cleanup finds it and nothing else', () => {
    expect(info.Config.Labels[LABEL_POOL]).toBe(namespace);
  });

  it(`runs its process as uid ${WORKER_UID}, with no capabilities and no-new-privileges in force`, async () => {
    expect(info.Config.User.split(':')[0]).toBe(WORKER_UID);
    // The worker is PID 1 in the container; the kernel's view of it, not Docker's settings.
    const status = await execIn(container, ['node', '-e', "process.stdout.write(require('fs').readFileSync('/proc/1/status', 'utf8'))"]);
    expect(status.code).toBe(0);
    const proc = parseProcStatus(status.stdout);
    expect(proc.Uid?.split(/\s+/)).toEqual([WORKER_UID, WORKER_UID, WORKER_UID, WORKER_UID]); // real, effective, saved, fs
    expect(proc.Gid?.split(/\s+/)).toEqual([WORKER_UID, WORKER_UID, WORKER_UID, WORKER_UID]);
    expect(proc.CapEff).toBe('0000000000000000');
    expect(proc.CapPrm).toBe('0000000000000000');
    expect(proc.CapBnd).toBe('0000000000000000');
    expect(proc.NoNewPrivs).toBe('1');

    const uid = await execIn(container, ['node', '-e', 'console.log(process.getuid(), process.getgid())']);
    expect(uid.stdout.trim()).toBe(`${WORKER_UID} ${WORKER_UID}`);
  });

  it('has a read-only root filesystem, no capabilities, no-new-privileges and a memory limit', () => {
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(info.HostConfig.Memory).toBeGreaterThan(0);
  });

  it('cannot write to / or /app, even as root, but can write to its /tmp tmpfs', async () => {
    const write = (path: string) => ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(path)}, 'y')`];
    for (const path of ['/app/x', '/x', '/app/dist/worker/main.js']) {
      const result = await execIn(container, write(path));
      expect(result.code, `writing ${path}`).not.toBe(0);
      expect(result.stderr, `writing ${path}`).toContain('EROFS');
    }
    // Root in the container is refused too: the file system is read-only, not just not ours.
    const asRoot = await execIn(container, write('/app/x'), '0');
    expect(asRoot.code).not.toBe(0);
    expect(asRoot.stderr).toContain('EROFS');
    // The control: the exec itself works, and /tmp is the one writable place.
    expect((await execIn(container, write('/tmp/x'))).code).toBe(0);
  });

  it('uses host networking and publishes no port', async () => {
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(Object.keys(info.HostConfig.PortBindings ?? {})).toEqual([]);
    expect(info.HostConfig.PublishAllPorts ?? false).toBe(false);
    expect(Object.keys(info.Config.ExposedPorts ?? {})).toEqual([]);
    expect(Object.keys(info.NetworkSettings.Ports ?? {})).toEqual([]);
    const [listed] = await poolContainers(namespace);
    expect(listed?.Ports).toEqual([]);
  });

  it('gets the broker URL from its environment; the image holds no URL or credentials', async () => {
    const containerEnv = info.Config.Env;
    expect(containerEnv.some((e) => e.startsWith('SHOAL_AMQP_URL='))).toBe(true);

    const image = await docker.getImage(WORKER_IMAGE).inspect();
    const imageEnv = image.Config.Env ?? [];
    expect(imageEnv.filter((e) => /^SHOAL_/.test(e))).toEqual([]);
    expect(imageEnv.filter((e) => /amqps?:|redis:|:\/\/[^/\s]*@|guest|password|secret|token|credential/i.test(e))).toEqual([]);
    expect(image.Config.User.split(':')[0]).toBe(WORKER_UID);
    expect(Object.keys(image.Config.ExposedPorts ?? {})).toEqual([]);
  });
});
