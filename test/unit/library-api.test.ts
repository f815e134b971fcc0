import { describe, expect, expectTypeOf, it } from 'vitest';
import { durationMs, integerIn, transportForUrl } from '../../infra/library-options.js';
import type { ShoalClient } from '../../producer/index.js';
import { defineHandlers, type JobContext } from '../../worker/index.js';

describe('library options', () => {
  it.each([
    ['amqp://guest:guest@127.0.0.1:5672', 'rabbitmq'],
    ['AMQPS://broker.example', 'rabbitmq'],
    ['redis://127.0.0.1:6379', 'bullmq'],
    ['rediss://cache.example:6380/2', 'bullmq'],
  ] as const)('takes the transport from the URL: %s -> %s', (url, transport) => {
    expect(transportForUrl(url)).toBe(transport);
    expect(transportForUrl(url, transport)).toBe(transport);
  });

  it.each([
    ['http://127.0.0.1', undefined, /must start with amqp:\/\//],
    ['127.0.0.1:5672', undefined, /must start with/],
    ['amqp://127.0.0.1', 'bullmq', /transport bullmq does not go with a amqp:\/\/ url \(rabbitmq does\)/],
  ] as const)('refuses %s (transport %s) with BAD_CONFIG and what to fix', (url, transport, message) => {
    expect(() => transportForUrl(url, transport)).toThrow(expect.objectContaining({ code: 'BAD_CONFIG', message: expect.stringMatching(message) }));
  });

  it.each([
    [250, 250],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['2m', 120_000],
  ] as const)('reads the duration %s as %d ms', (value, ms) => {
    expect(durationMs(value, 'timeout')).toBe(ms);
  });

  it.each([0, -5, '0s', 'soon', Number.NaN])('refuses the duration %s', (value) => {
    expect(() => durationMs(value as '1s', 'timeout')).toThrow(expect.objectContaining({ code: 'BAD_CONFIG', message: expect.stringContaining('timeout must be a positive duration') }));
  });

  it('checks integer ranges', () => {
    expect(integerIn(4, 'concurrency', 1, 1000)).toBe(4);
    expect(() => integerIn(1.5, 'concurrency', 1, 1000)).toThrow(/concurrency must be an integer from 1 to 1000 \(got 1.5\)/);
  });

  it('defineHandlers returns the map as given, and refuses names a request cannot carry and non-functions', () => {
    const handlers = { resize: (p: { width: number }) => p.width };
    expect(defineHandlers(handlers)).toBe(handlers);
    expect(() => defineHandlers({ 'two words': () => 1 })).toThrow(expect.objectContaining({ code: 'BAD_HANDLERS' }));
    expect(() => defineHandlers({ ok: 42 } as never)).toThrow(expect.objectContaining({ code: 'BAD_HANDLERS', message: 'job handler "ok" is not a function' }));
  });
});

/** Compile-time only: `npx tsc -p test/tsconfig.json` checks these; each @ts-expect-error must be an error. */
describe('client types from a handler map', () => {
  const handlers = defineHandlers({
    resize: async (payload: { url: string; width: number }, ctx: JobContext) => ({ width: payload.width, by: ctx.workerId }),
    ping: () => 'pong' as const,
  });
  type Client = ShoalClient<typeof handlers>;

  it('types job names, payloads and results', () => {
    expectTypeOf<Client['call']>().toBeFunction();
    const typed = async (client: Client) => {
      expectTypeOf(await client.call('resize', { url: 'a', width: 1 })).toEqualTypeOf<{ width: number; by: string }>();
      expectTypeOf(await client.call('ping')).toEqualTypeOf<'pong'>();
      // @ts-expect-error: no such job
      await client.call('resise', { url: 'a', width: 1 });
      // @ts-expect-error: width must be a number
      await client.call('resize', { url: 'a', width: '1' });
      // @ts-expect-error: resize needs a payload
      await client.call('resize');
      // @ts-expect-error: not a duration
      await client.call('ping', undefined, { timeout: 'soon' });
    };
    const untyped = async (client: ShoalClient) => {
      expectTypeOf(await client.call('anything', { at: 'all' }, { timeout: '5s' })).toBeUnknown();
    };
    expect([typed, untyped]).toHaveLength(2);
  });
});
