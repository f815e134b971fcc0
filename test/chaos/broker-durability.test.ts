import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import type { JobContext } from '../../worker/jobs.js';
import type { Worker } from '../../worker/worker.js';
import { newNamespace, rawChannel, removeNamespace, startWorker, waitFor } from '../helpers/broker.js';
import { rabbitmqctl } from '../helpers/chaos.js';
import { exitOf } from '../helpers/processes.js';

/**
 * The broker's own durability, with nobody to publish again. The chaos test of
 * a broker restart under load (broker.test.ts) passes even with a non-durable
 * queue, because the producer republishes every waiting call after it
 * reconnects. Here the producer is gone before the restart: what the queue
 * holds afterwards is only what the broker kept.
 */
const N = 400;

/** Messages ready in a queue, by a passive declare (exact, unlike the management API's sampled figures); undefined while the broker cannot say. */
async function readyIn(queue: string): Promise<number | undefined> {
  try {
    const { connection, channel } = await rawChannel();
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await connection.close().catch(() => undefined);
    }
  } catch {
    return undefined;
  }
}

/** Polls `read` until `done` holds or `timeoutMs` passes; returns the last value read. */
async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(250);
  }
}

describe('chaos: requests confirmed by the broker survive its restart with no producer left', () => {
  let namespace: string;
  let worker: Worker | undefined;
  afterEach(async () => {
    rabbitmqctl('start_app'); // whatever happened, leave the broker running
    await worker?.close();
    worker = undefined;
    await removeNamespace(namespace);
  });

  it(`${N} requests published with confirms, the producer killed, the broker restarted: all ${N} still queued, then each served once`, async () => {
    namespace = newNamespace();
    const topology = topologyFor(namespace);

    // A real producer process, no worker: every request is published (confirms, persistent, quorum queue) and waits.
    const producer = spawn(process.execPath, ['dist/producer/cli.js', '--count', String(N), '--concurrency', String(N), '--job', 'record', '--timeout', '10m', '--no-progress', '--namespace', namespace], { stdio: 'ignore' });
    await waitFor(`${N} requests in ${topology.requestQueue}`, async () => (await readyIn(topology.requestQueue)) === N, 30_000);
    producer.kill('SIGKILL'); // gone: nobody will publish anything again
    await exitOf(producer);

    rabbitmqctl('stop_app');
    rabbitmqctl('start_app');
    // A quorum queue recovers its log after the app starts: poll until it holds N, or give up and show what it holds.
    const afterRestart = await pollUntil(() => readyIn(topology.requestQueue), (n) => n === N, 60_000);

    // Served: each request run by a worker and acked. Their caller is gone, so the replies go nowhere;
    // the job records each request's id, and the queue must drain to 0 with nothing dead-lettered.
    const served = new Map<string, number>();
    const record = (_payload: unknown, context: JobContext) => void served.set(context.messageId, (served.get(context.messageId) ?? 0) + 1);
    worker = await startWorker(namespace, 'after-restart', { handlers: { record }, concurrency: 16 });
    await waitFor(`${N} requests served`, () => served.size === N, 60_000);
    await worker.close(); // unacked requests would go back to the queue now
    worker = undefined;
    const left = await readyIn(topology.requestQueue);
    const deadLettered = await readyIn(topology.deadQueue);
    const runs = [...served.values()].reduce((a, b) => a + b, 0);
    console.log(`chaos broker durability: published and confirmed ${N}, queued after restart ${afterRestart}, served ${served.size} (runs ${runs}), left in queue ${left}, dead-lettered ${deadLettered}`);
    expect({ afterRestart, served: served.size, runs, left, deadLettered }).toEqual({ afterRestart: N, served: N, runs: N, left: 0, deadLettered: 0 });
  });
});
