import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastReply, fastRequestBody } from '../../infra/protocol-checks.js';
import { replySchema, requestBodySchema } from '../../infra/protocol.js';

/** A JSON value as it arrives: what JSON.parse gives back. */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.jsonValue());
const timings = fc.record({ queuedMs: fc.oneof(fc.constant(null), fc.double(), fc.string()), serviceMs: maybe(fc.double()) }, { requiredKeys: [] });
/** Replies, near-replies and junk: every field sometimes right, sometimes of another type or missing. */
const replyLike = fc.record(
  {
    ok: fc.oneof(fc.boolean(), fc.constantFrom('true', 0, null)),
    result: fc.jsonValue(),
    workerId: maybe(fc.string()),
    timings: maybe(timings),
    redelivered: maybe(fc.boolean()),
    error: maybe(fc.record({ code: maybe(fc.string()), message: maybe(fc.string()), extra: fc.jsonValue() }, { requiredKeys: [] })),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const bodyLike = fc.record(
  { job: fc.oneof(fc.constantFrom('echo', 'a.b:c-d_e', 'rm -rf', '', '-x', 'x'.repeat(129)), fc.string(), fc.integer()), payload: fc.jsonValue(), extra: fc.jsonValue() },
  { requiredKeys: [] },
);

describe('the hand-written protocol checks', () => {
  it('accept exactly the replies replySchema accepts, with the same output', () => {
    fc.assert(
      fc.property(fc.oneof(replyLike, fc.jsonValue()), (raw) => {
        const json = asJson(raw);
        const zod = replySchema.safeParse(json);
        const fast = fastReply(json);
        expect(fast !== undefined).toBe(zod.success);
        if (fast) expect(fast).toEqual(zod.data);
      }),
      { numRuns: 3000 },
    );
  });

  it('accept exactly the request bodies requestBodySchema accepts, with the same output', () => {
    fc.assert(
      fc.property(fc.oneof(bodyLike, fc.jsonValue()), (raw) => {
        const json = asJson(raw);
        const zod = requestBodySchema.safeParse(json);
        const fast = fastRequestBody(json);
        expect(fast !== undefined).toBe(zod.success);
        if (fast) expect(fast).toEqual(zod.data);
      }),
      { numRuns: 3000 },
    );
  });
});
