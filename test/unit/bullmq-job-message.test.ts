import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { decodeRequest } from '../../infra/protocol.js';
import { jobToMessage, replyFromFailure, type RequestJobData } from '../../infra/transport/bullmq/job-message.js';

const job = (over: Partial<Job<RequestJobData>> = {}) =>
  ({
    id: 'c-1',
    attemptsMade: 0,
    stalledCounter: 0,
    data: { body: JSON.stringify({ job: 'echo', payload: 42 }), messageId: 'c-1', version: 1, sentAt: 1000, deadline: 31_000 },
    ...over,
  }) as Job<RequestJobData>;

describe('BullMQ jobs as protocol messages', () => {
  it('decode like an AMQP request: same body, ids, times and version', () => {
    const decoded = decodeRequest(jobToMessage(job()), 1 << 20);
    expect(decoded).toMatchObject({ ok: true, request: { job: 'echo', payload: 42, messageId: 'c-1', correlationId: 'c-1', sentAt: 1000, deadline: 31_000, deliveryCount: 0, redelivered: false } });
  });

  it('count failed attempts and stalls as earlier deliveries', () => {
    const decoded = decodeRequest(jobToMessage(job({ attemptsMade: 1, stalledCounter: 1 })), 1 << 20);
    expect(decoded).toMatchObject({ ok: true, request: { deliveryCount: 2, redelivered: true } });
  });

  it("carry the job's own last delivery: attempts - 1, moved on by each stall (which uses up no attempt)", () => {
    expect(jobToMessage(job()).deliveryLimit).toBe(0); // BullMQ's default: one attempt
    expect(jobToMessage(job({ opts: { attempts: 3 } })).deliveryLimit).toBe(2);
    expect(jobToMessage(job({ opts: { attempts: 3 }, attemptsMade: 1, stalledCounter: 1 })).deliveryLimit).toBe(3);
  });

  it('keep the protocol checks: a bad body is refused with the same codes', () => {
    const bad = job({ data: { body: '{"job": "no spaces allowed"}', messageId: 'x', version: 1, sentAt: 1, deadline: 2 } });
    expect(decodeRequest(jobToMessage(bad), 1 << 20)).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(decodeRequest(jobToMessage(job({ data: { ...job().data, version: 99 } })), 1 << 20)).toMatchObject({ ok: false, code: 'UNSUPPORTED_VERSION' });
  });

  it('turn a failure reason into a reply: a worker\'s error reply, or BullMQ\'s own text', () => {
    const reply = { ok: false as const, error: { code: 'REFUSED', message: 'no' }, workerId: 'w', timings: { queuedMs: 1, serviceMs: 2 } };
    expect(replyFromFailure(JSON.stringify(reply))).toEqual(reply);
    expect(replyFromFailure('job stalled more than allowable limit')).toMatchObject({ ok: false, error: { code: 'JOB_STALLED' } });
    expect(replyFromFailure('something else')).toMatchObject({ ok: false, error: { code: 'JOB_FAILED', message: 'something else' } });
  });
});
