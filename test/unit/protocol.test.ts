import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import {
  decodeControl,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequestBody,
  HEADER_SENT_AT,
  HEADER_VERSION,
  requestHeaders,
} from '../../infra/protocol.js';
import type { IncomingMessage } from '../../infra/transport/types.js';

function message(body: string | Buffer, properties: Partial<IncomingMessage['properties']> = {}): IncomingMessage {
  return {
    content: Buffer.isBuffer(body) ? body : Buffer.from(body),
    fields: { redelivered: false },
    properties: { replyTo: 'amq.rabbitmq.reply-to.x', correlationId: 'c1', messageId: 'm1', headers: {}, ...properties },
  };
}

describe('decodeRequest', () => {
  it.each([
    ['no replyTo', message('{}', { replyTo: undefined }), 'MISSING_REPLY_TO'],
    ['no correlationId', message('{}', { correlationId: undefined }), 'MISSING_CORRELATION_ID'],
    ['a body over the limit', message(encodeRequestBody('echo', 'x'.repeat(200))), 'BODY_TOO_LARGE'],
    ['malformed JSON', message('{nope'), 'MALFORMED_JSON'],
    ['a body without a job', message('{"payload":1}'), 'BAD_REQUEST'],
    ['a job name with spaces', message('{"job":"rm -rf","payload":1}'), 'BAD_REQUEST'],
    ['a newer protocol version', message(encodeRequestBody('echo', 1), { headers: { [HEADER_VERSION]: 2 } }), 'UNSUPPORTED_VERSION'],
    ['a nonsense protocol version', message(encodeRequestBody('echo', 1), { headers: { [HEADER_VERSION]: 'x' } }), 'BAD_VERSION'],
  ])('rejects %s', (_what, msg, code) => {
    const decoded = decodeRequest(msg, 128);
    expect(decoded).toMatchObject({ ok: false, code });
  });

  it('keeps replyTo and correlationId on a rejected request, so the worker can answer it', () => {
    expect(decodeRequest(message('{nope'), 128)).toMatchObject({ replyTo: 'amq.rabbitmq.reply-to.x', correlationId: 'c1' });
  });

  it('decodes a good request with its deadline and delivery count', () => {
    const msg = message(encodeRequestBody('sleep', { ms: 5 }), {
      expiration: '2000',
      headers: { [HEADER_SENT_AT]: 1_000, 'x-delivery-count': 2 },
    });
    expect(decodeRequest(msg, 1024)).toEqual({
      ok: true,
      request: {
        job: 'sleep',
        payload: { ms: 5 },
        messageId: 'm1',
        correlationId: 'c1',
        replyTo: 'amq.rabbitmq.reply-to.x',
        sentAt: 1_000,
        deadline: 3_000,
        version: 1,
        deliveryCount: 2,
        redelivered: false,
      },
    });
  });

  it("gives a request's deadline from its headers, first published or published again with less time to live", () => {
    const first = message(encodeRequestBody('echo', 1), { expiration: '5000', headers: requestHeaders(1_000, undefined) });
    expect(decodeRequest(first, 1024)).toMatchObject({ ok: true, request: { sentAt: 1_000, deadline: 6_000, version: 1 } });
    const again = message(encodeRequestBody('echo', 1), { expiration: '2000', headers: requestHeaders(1_000, 6_000) });
    expect(decodeRequest(again, 1024)).toMatchObject({ ok: true, request: { sentAt: 1_000, deadline: 6_000, version: 1 } });
  });

  it('treats a request without a version header as version 1', () => {
    expect(decodeRequest(message(encodeRequestBody('echo', null)), 1024)).toMatchObject({ ok: true, request: { version: 1 } });
  });
});

describe('replies and control messages', () => {
  it('round-trips an ok and an error reply', () => {
    const ok = { ok: true as const, result: { a: 1 }, workerId: 'w', timings: { queuedMs: 1, serviceMs: 2 } };
    const failed = { ok: false as const, error: { code: 'X', message: 'y' }, workerId: 'w', timings: { queuedMs: null, serviceMs: 0 } };
    expect(decodeReply(encodeReply(ok))).toEqual(ok);
    expect(decodeReply(encodeReply(failed))).toEqual(failed);
  });

  it('rejects a reply that is not one', () => {
    expect(() => decodeReply(Buffer.from('nope'))).toThrow(/not JSON/);
    expect(() => decodeReply(Buffer.from('{"ok":true}'))).toThrow(/schema/);
  });

  it('decodes quit and drain, and rejects anything else', () => {
    expect(decodeControl(Buffer.from('{"type":"quit"}'))).toEqual({ type: 'quit' });
    expect(decodeControl(Buffer.from('{"type":"drain","workerId":"w1"}'))).toEqual({ type: 'drain', workerId: 'w1' });
    expect(() => decodeControl(Buffer.from('{"type":"explode"}'))).toThrow(/schema/);
  });

  it('names every broker object of a pool after its namespace', () => {
    expect(topologyFor('shoal')).toEqual({
      namespace: 'shoal',
      requestQueue: 'shoal.requests',
      deadExchange: 'shoal.dlx',
      deadQueue: 'shoal.dead',
      controlExchange: 'shoal.control',
    });
  });
});
