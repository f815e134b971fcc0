import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDispatcherConfig } from '../../dispatcher/config.js';
import { chooseRuntime } from '../../dispatcher/runtime-choice.js';
import { DockerRuntime, removePoolContainers } from '../../infra/runtime/docker.js';
import { EngineTimeoutError } from '../../infra/runtime/engine-timeout.js';
import { removePoolServices, SwarmRuntime } from '../../infra/runtime/swarm.js';
import { quietLogger, waitFor } from '../helpers/broker.js';

const TIMEOUT_MS = 500;
/** Far above the timeout, far below the test's own: a call that is not bounded hangs past it. */
const BOUND_MS = 5_000;

/**
 * A hung Docker engine: a unix socket that accepts connections and never
 * answers (except, when asked, image inspects, so that a start gets as far as
 * creating its container). Every engine call fails within its timeout with an
 * error that names the call, instead of holding its caller forever.
 */
describe('Docker engine calls against an engine that never answers', () => {
  let dir: string;
  let socketPath: string;
  let server: http.Server;
  const connections = new Set<Socket>();
  let answerImageInspect = false;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shoal-hung-engine-'));
    socketPath = path.join(dir, 'docker.sock');
    answerImageInspect = false;
    server = http.createServer((req, res) => {
      if (answerImageInspect && req.method === 'GET' && /^(\/v[\d.]+)?\/images\/.+\/json$/.test(req.url ?? '')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"Id":"sha256:fake"}');
      }
      // anything else: never answered
    });
    server.on('connection', (socket: Socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  afterEach(async () => {
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function dockerRuntime(): DockerRuntime {
    return new DockerRuntime({ docker: new Docker({ socketPath }), namespace: 'hung', image: 'shoal/worker:hung', memoryBytes: 64 << 20, cpus: 1, stopGraceMs: 1000, logger: quietLogger, engineTimeoutMs: TIMEOUT_MS });
  }

  /** The error a call failed with, and how long it took; fails the test if it is still waiting after BOUND_MS. */
  async function failure(call: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${BOUND_MS} ms`)), BOUND_MS)));
    try {
      await Promise.race([call, hung]);
      throw new Error('the call succeeded against an engine that never answers');
    } catch (error) {
      if ((error as Error).message.startsWith('still waiting') || (error as Error).message.startsWith('the call succeeded')) throw error;
      return { error, ms: performance.now() - started };
    } finally {
      clearTimeout(timer);
    }
  }

  function expectTimeout({ error, ms }: { error: unknown; ms: number }, call: string): void {
    expect(error).toBeInstanceOf(EngineTimeoutError);
    expect((error as EngineTimeoutError).code).toBe('DOCKER_TIMEOUT');
    expect((error as Error).message).toContain(`did not answer ${call} within ${TIMEOUT_MS} ms`);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  }

  it('list() fails naming listContainers, and drops the request', async () => {
    expectTimeout(await failure(dockerRuntime().list()), 'listContainers');
    // The HTTP request was aborted, not left open to the hung engine.
    await waitFor('the connection to the engine closed', () => connections.size === 0, 2_000);
  });

  it('start() fails naming the image inspect when even that hangs, and createContainer when it is next', async () => {
    expectTimeout(await failure(dockerRuntime().start({ workerId: 'w-1', role: 'worker', env: {} })), 'inspect image shoal/worker:hung');
    answerImageInspect = true;
    expectTimeout(await failure(dockerRuntime().start({ workerId: 'w-2', role: 'worker', env: {} })), 'createContainer w-2');
  });

  it('drain() and remove() fail naming the lookup of the container', async () => {
    expectTimeout(await failure(dockerRuntime().drain('w-1', 1000)), 'listContainers for worker w-1');
    expectTimeout(await failure(dockerRuntime().remove('w-1')), 'listContainers for worker w-1');
  });

  it('the Swarm runtime and shoal-cleanup fail naming their calls', async () => {
    const docker = new Docker({ socketPath });
    expectTimeout(await failure(SwarmRuntime.requireManager(docker, TIMEOUT_MS)), 'info');
    const swarm = new SwarmRuntime({ docker, namespace: 'hung', image: 'shoal/worker:hung', memoryBytes: 64 << 20, cpus: 1, stopGraceMs: 1000, logger: quietLogger, engineTimeoutMs: TIMEOUT_MS, requestDrain: async () => false });
    expectTimeout(await failure(swarm.list()), 'listServices');
    expectTimeout(await failure(removePoolServices(docker, 'hung', TIMEOUT_MS)), 'listServices');
    expectTimeout(await failure(removePoolContainers(docker, 'hung', TIMEOUT_MS)), 'listContainers');
  });

  it('the dispatcher asked for --runtime docker says the engine does not answer its ping, in time', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${socketPath}`;
    try {
      const config = parseDispatcherConfig({ SHOAL_DOCKER_TIMEOUT: `${TIMEOUT_MS}ms` }, { runtime: 'docker' });
      const { error, ms } = await failure(chooseRuntime(config, quietLogger, { requestDrain: async () => false }));
      expect((error as Error).message).toMatch(/^--runtime docker was asked for, but the Docker engine does not answer .*did not answer ping within 500 ms/);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
