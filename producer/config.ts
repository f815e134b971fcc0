import { z } from 'zod';
import { commonSettings, duration, flag, integer, optionalNumber, parseSettings, text, type ParsedSettings } from '../infra/config.js';
import { redisSettings } from '../infra/redis.js';
import { JOB_NAME_PATTERN } from '../infra/protocol.js';
import { requireRedisFor, transportSettings } from '../infra/transport/settings.js';

const jsonText = z
  .string()
  .default('null')
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be JSON, e.g. '{"ms":50}'` });
      return z.NEVER;
    }
  });

export const producerSettings = {
  ...commonSettings,
  ...redisSettings,
  ...transportSettings,
  count: { env: 'SHOAL_COUNT', flag: '--count', short: '-n', help: 'requests to send', schema: integer({ default: 1000, min: 1, max: 100_000_000 }) },
  concurrency: { env: 'SHOAL_PRODUCER_CONCURRENCY', flag: '--concurrency', short: '-c', help: 'requests in flight at once', schema: integer({ default: 32, min: 1, max: 100_000 }) },
  rate: { env: 'SHOAL_RATE', flag: '--rate', short: '-r', placeholder: '<per-second>', help: 'pace requests to this rate (unset: as fast as replies come)', schema: optionalNumber({ min: 0.001 }) },
  job: { env: 'SHOAL_JOB', flag: '--job', short: '-j', placeholder: '<name>', help: 'job to run: echo, sleep, cpu or a custom one', schema: text({ default: 'echo', pattern: JOB_NAME_PATTERN, hint: 'must be a job name like echo, sleep or cpu' }) },
  payload: { env: 'SHOAL_PAYLOAD', flag: '--payload', short: '-p', placeholder: '<json>', help: `the job's payload as JSON, e.g. '{"ms":50}' for sleep`, schema: jsonText },
  timeoutMs: { env: 'SHOAL_TIMEOUT', flag: '--timeout', short: '-t', help: 'give up on a request after this long', schema: duration({ default: '30s', min: 1 }) },
  /** After Ctrl-C: how long to wait for the replies in flight before printing the summary. */
  interruptGraceMs: { env: 'SHOAL_INTERRUPT_GRACE', schema: duration({ default: '3s' }) },
  each: { env: 'SHOAL_EACH', flag: '--each', help: "print each request's response time", schema: flag(false) },
  json: { env: 'SHOAL_JSON', flag: '--json', help: 'print the summary as JSON on stdout', schema: flag(false) },
  progress: { env: 'SHOAL_PROGRESS', flag: '--no-progress', help: 'no progress bar', schema: flag(true) },
  report: { env: 'SHOAL_REPORT', flag: '--report', placeholder: '<file.html>', help: "write an HTML report: latency, throughput and the pool's size over time", schema: text({ default: '-' }) },
};

export type ProducerConfig = ParsedSettings<typeof producerSettings>;

export function parseProducerConfig(env: NodeJS.ProcessEnv, flags: Record<string, unknown>): ProducerConfig {
  const config = parseSettings(producerSettings, env, flags);
  requireRedisFor(config.transport, config.redisUrl);
  return config;
}
