import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { replyOwedFor } from '../../infra/transport/rabbitmq/dead-letter-replies.js';
import { replySchema } from '../../infra/protocol.js';

/** A dead letter as the broker hands it out: the reason is in x-first-death-reason. */
function deadLetter(reason: string, properties: Record<string, unknown> = { replyTo: 'amq.rabbitmq.reply-to.abc', correlationId: 'c-1' }): Message {
  return {
    content: Buffer.from(JSON.stringify({ job: 'exit', payload: {} })),
    fields: {} as Message['fields'],
    properties: { headers: { 'x-first-death-reason': reason, 'x-first-death-queue': 'ns.requests' }, ...properties } as unknown as Message['properties'],
  };
}

describe('the reply owed for a dead letter', () => {
  it('answers a request that ran out of deliveries with DELIVERY_LIMIT, to its caller', () => {
    const owed = replyOwedFor(deadLetter('delivery_limit'), 5);
    expect(owed).toMatchObject({ replyTo: 'amq.rabbitmq.reply-to.abc', correlationId: 'c-1', body: { ok: false, error: { code: 'DELIVERY_LIMIT' } } });
    expect(replySchema.parse(owed!.body)).toEqual(owed!.body); // a reply the client accepts
    if (!owed!.body.ok) expect(owed!.body.error.message).toContain('job "exit" was delivered 6 times and no worker answered it');
  });

  it.each([
    ['rejected', 'the worker that rejected it has answered'],
    ['expired', 'its caller stopped waiting'],
  ])('owes nothing for a %s request (%s)', (reason) => {
    expect(replyOwedFor(deadLetter(reason), 5)).toBeUndefined();
  });

  it('owes nothing when there is nobody to answer', () => {
    expect(replyOwedFor(deadLetter('delivery_limit', { correlationId: 'c-1' }), 5)).toBeUndefined();
    expect(replyOwedFor(deadLetter('delivery_limit', { replyTo: 'amq.rabbitmq.reply-to.abc' }), 5)).toBeUndefined();
  });
});
