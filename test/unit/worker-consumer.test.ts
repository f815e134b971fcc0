import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeRequestBody } from '../../infra/protocol.js';
import type { ConsumerCallbacks, IncomingMessage, RequestConsumer, RequestResult } from '../../infra/transport/types.js';
import type { WorkerRole } from '../../infra/worker-role.js';
import type { JobHandlers } from '../../worker/jobs.js';
import { Worker } from '../../worker/worker.js';

/** A consumer with no transport behind it: the test hands deliveries in and records what the worker asks of it. */
class FakeConsumer implements RequestConsumer {
  readonly messaging = { system: 'rabbitmq' as const, destination: 'fake.requests' };
  readonly calls: string[] = [];
  callbacks: ConsumerCallbacks | undefined;

  async start(role: WorkerRole, callbacks: ConsumerCallbacks): Promise<void> {
    this.calls.push(`start ${role}`);
    this.callbacks = callbacks;
  }
  async promote(): Promise<void> {
    this.calls.push('promote');
  }
  async stopConsuming(): Promise<void> {
    this.calls.push('stopConsuming');
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

let sequence = 0;
function request(job: string): IncomingMessage {
  sequence++;
  return { content: encodeRequestBody(job, null), fields: { redelivered: false }, properties: { replyTo: 'reply.here', correlationId: `c${sequence}`, messageId: `m${sequence}` } };
}

async function startedWorker(handlers: JobHandlers) {
  const consumer = new FakeConsumer();
  const worker = new Worker({ workerId: 'w', consumer, deliveryLimit: 5, maxBodyBytes: 1024, role: 'spare', handlers, logger: pino({ level: 'silent' }) });
  await worker.start();
  return { worker, consumer, deliver: (job: string) => consumer.callbacks!.deliver(request(job)) };
}

describe('the worker and the consumer it is handed', () => {
  it('returns a synchronous job\'s result at once, not a promise, and never counts it in flight', async () => {
    const { worker, consumer, deliver } = await startedWorker({ now: () => 42 });
    expect(consumer.calls).toEqual(['start spare']);
    const result = deliver('now') as RequestResult;
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toMatchObject({ settle: 'ack', reply: { replyTo: 'reply.here', body: { ok: true, result: 42 } } });
    expect(worker.stats()).toMatchObject({ inFlight: 0, processed: 1 });
  });

  it('counts an asynchronous job in flight until its result is returned', async () => {
    let release!: () => void;
    const { worker, deliver } = await startedWorker({ later: () => new Promise((resolve) => (release = () => resolve('done'))) });
    const result = deliver('later');
    expect(result).toBeInstanceOf(Promise);
    expect(worker.stats().inFlight).toBe(1);
    release();
    await expect(result).resolves.toMatchObject({ settle: 'ack', reply: { body: { ok: true, result: 'done' } } });
    expect(worker.stats().inFlight).toBe(0);
  });

  it('drains in order: stops consuming, waits for the jobs it runs, then closes the consumer (which waits for its settles)', async () => {
    let release!: () => void;
    const { worker, consumer, deliver } = await startedWorker({ later: () => new Promise((resolve) => (release = () => resolve('done'))) });
    const result = deliver('later');
    const closing = worker.close('test');
    await new Promise((resolve) => setImmediate(resolve));
    expect(consumer.calls).toEqual(['start spare', 'stopConsuming']);
    release();
    await result;
    await closing;
    expect(consumer.calls).toEqual(['start spare', 'stopConsuming', 'close']);
  });

  it('asks the consumer to promote on a promote control message', async () => {
    const { worker, consumer } = await startedWorker({});
    const promoted = new Promise((resolve) => worker.once('promoted', resolve));
    consumer.callbacks!.onControl({ type: 'promote', workerId: 'w' });
    await promoted;
    expect(consumer.calls).toEqual(['start spare', 'promote']);
    expect(worker.stats().role).toBe('worker');
  });
});
