import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartDelayMs } from '../../dispatcher/pool.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { LABEL_POOL, LABEL_WORKER_ID } from '../../infra/runtime/docker.js';
import { runLoad } from '../../producer/load.js';
import { connectClient, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';

/** A job that kills its worker process every time it runs, baked into an image of its own. */
const HANDLERS_IN_IMAGE = '/app/handlers/exit.mjs';
const DELIVERY_LIMIT = 3; // 4 deliveries, so 4 dead workers

function buildExitImage(tag: string): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-exit-image-'));
  try {
    writeFileSync(path.join(dir, 'exit.mjs'), 'export default { exit: () => process.exit(1) };\n');
    writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${WORKER_IMAGE}\nCOPY exit.mjs ${HANDLERS_IN_IMAGE}\n`);
    execFileSync('docker', ['build', '-q', '-t', tag, dir], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ContainerEvent {
  action: string;
  workerId: string;
  at: number;
}

/** create and die events of one pool's containers, as the engine records them. */
async function watchContainers(namespace: string): Promise<{ events: ContainerEvent[]; stop: () => void }> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['create', 'die'], label: [`${LABEL_POOL}=${namespace}`] } })) as Readable;
  const events: ContainerEvent[] = [];
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const e = JSON.parse(buffered.slice(0, nl)) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
      buffered = buffered.slice(nl + 1);
      events.push({ action: e.Action, workerId: e.Actor.Attributes[LABEL_WORKER_ID] ?? '?', at: e.timeNano / 1e6 });
    }
  });
  return { events, stop: () => stream.destroy() };
}

/** The dispatcher's "worker exited; replacing it" log lines. */
function exitsLogged(output: string): { workerId: string; exitCode: number | null; restartInMs: number }[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"worker exited; replacing it"'))
    .map((line) => JSON.parse(line) as { workerId: string; exitCode: number | null; restartInMs: number });
}

describe('a job that kills its worker every time (Docker)', () => {
  const namespace = newNamespace();
  const image = `shoal/worker:exit-${namespace}`;
  let dispatcher: ChildProcess | undefined;

  beforeAll(() => buildExitImage(image), 120_000);

  afterAll(async () => {
    if (dispatcher && dispatcher.exitCode === null && dispatcher.signalCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    expect(await poolContainers(namespace)).toEqual([]);
    await docker.getImage(image).remove().catch(() => undefined);
    await removeNamespace(namespace);
  });

  it('is dead-lettered after the delivery limit with a DELIVERY_LIMIT reply; the pool backs off; echo keeps being answered', async () => {
    const watch = await watchContainers(namespace);
    const started = startDispatcher(
      ['--runtime', 'docker', '--image', image, '--handlers', HANDLERS_IN_IMAGE, '--min', '2', '--max', '2', '--spares', '0', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace],
      { SHOAL_DELIVERY_LIMIT: String(DELIVERY_LIMIT) },
    );
    dispatcher = started.child;
    await waitFor('2 consuming containers', async () => (await consumerCount(topologyFor(namespace))) === 2, 30_000);
    const client = await connectClient(namespace, DELIVERY_LIMIT);
    try {
      let echoRedelivered = 0;
      const echoes = runLoad(
        { call: async (job, payload, timeoutMs) => {
          const reply = await client.call(job, payload, timeoutMs);
          if (reply.redelivered) echoRedelivered++;
          return reply;
        } },
        { count: 300, ratePerSec: 20, concurrency: 1000, job: 'echo', payload: { hello: 'world' }, timeoutMs: 60_000 },
      );
      const sentAt = Date.now();
      const crash = await client.call('exit', {}, 45_000); // a TIMEOUT rejects: nobody answered
      const crashAnsweredInMs = Date.now() - sentAt;
      const summary = await echoes;
      await waitFor('the pool back at 2', async () => (await consumerCount(topologyFor(namespace))) === 2, 40_000);
      watch.stop();

      const exits = exitsLogged(started.output());
      const creates = watch.events.filter((e) => e.action === 'create');
      const dies = watch.events.filter((e) => e.action === 'die');
      const span = (creates.at(-1)!.at - creates[0]!.at) / 1000;
      console.log(
        `job that kills its worker: reply ${crash.ok ? 'ok' : crash.error.code} after ${crashAnsweredInMs} ms; ` +
          `workers died ${dies.length} (exit codes ${exits.map((e) => e.exitCode).join(',')}), restart delays ${exits.map((e) => e.restartInMs).join(', ')} ms, ` +
          `containers created ${creates.length} over ${span.toFixed(1)} s; echo sent ${summary.sent}, ok ${summary.ok}, errors ${summary.errors}, ` +
          `timed out ${summary.timedOut}, redelivered ${echoRedelivered}`,
      );

      // The caller hears a clear error, not a timeout.
      expect(crash).toMatchObject({ ok: false, error: { code: 'DELIVERY_LIMIT' } });
      if (!crash.ok) expect(crash.error.message).toContain('job "exit" was delivered 4 times and no worker answered it');
      // Every delivery killed a worker, and the request was then dead-lettered for good.
      expect(exits).toHaveLength(DELIVERY_LIMIT + 1);
      expect(exits.every((e) => e.exitCode === 1)).toBe(true);
      const dead = await runCli('dispatcher/tools/dead-letters.js', ['list', '--json', '--namespace', namespace]);
      const deadLetters = (JSON.parse(dead.stdout) as { deadLetters: { job: string; reason: string }[] }).deadLetters;
      expect(deadLetters).toEqual([expect.objectContaining({ job: 'exit', reason: 'delivery_limit' })]);

      // Backoff, not a hot loop: each young death doubles the delay (pool.ts restartDelayMs) ...
      expect(exits.map((e) => e.restartInMs)).toEqual(exits.map((_, i) => restartDelayMs(i + 1)));
      // ... the engine saw no container created before the delay after a death ran out ...
      for (const exit of exits) {
        const died = dies.find((d) => d.workerId === exit.workerId)!;
        const tooEarly = creates.filter((c) => c.at > died.at && c.at < died.at + exit.restartInMs - 50);
        expect(tooEarly, `containers created within ${exit.restartInMs} ms of ${exit.workerId} dying`).toEqual([]);
      }
      // ... and one replacement per death: 2 + 4 containers in all.
      expect(creates).toHaveLength(2 + DELIVERY_LIMIT + 1);

      // The other requests kept flowing and were all answered.
      expect(summary).toMatchObject({ sent: 300, ok: 300, errors: 0, timedOut: 0 });
    } finally {
      await client.close();
      watch.stop();
    }

    started.child.kill('SIGINT');
    expect(await exitOf(started.child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});
