import { NAMESPACE_PATTERN, parseDurationMs } from './config.js';
import { ValidationError } from './errors.js';
import type { TransportKind } from './transport/types.js';

/**
 * Checks of the options that `connect()` (shoal) and `runWorker()`
 * (shoal/worker) take in code, where the CLIs parse environment and flags
 * (infra/config.ts). Failures are ValidationErrors with code BAD_CONFIG.
 */

/** Milliseconds, or a string such as "250ms", "5s" or "1m". */
export type Duration = number | `${number}ms` | `${number}s` | `${number}m`;

export function badConfig(problem: string): never {
  throw new ValidationError('BAD_CONFIG', problem);
}

/** The transport a URL speaks: amqp(s) is RabbitMQ, redis(s) is BullMQ; a `transport` given must agree. */
export function transportForUrl(url: string, transport?: TransportKind): TransportKind {
  const scheme = /^([a-z]+):\/\//i.exec(url ?? '')?.[1]?.toLowerCase();
  const fromUrl = scheme === 'amqp' || scheme === 'amqps' ? 'rabbitmq' : scheme === 'redis' || scheme === 'rediss' ? 'bullmq' : undefined;
  if (!fromUrl) badConfig(`url must start with amqp://, amqps://, redis:// or rediss:// (got ${JSON.stringify(url)})`);
  if (transport && transport !== fromUrl) badConfig(`transport ${transport} does not go with a ${scheme}:// url (${fromUrl} does)`);
  return fromUrl;
}

export function checkNamespace(namespace: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) badConfig(`namespace must be lowercase letters, digits, ".", "_" or "-" (at most 63) (got ${JSON.stringify(namespace)})`);
  return namespace;
}

export function durationMs(value: Duration, what: string): number {
  const ms = typeof value === 'number' ? value : parseDurationMs(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) badConfig(`${what} must be a positive duration like 500, "500ms", "5s" or "1m" (got ${JSON.stringify(value)})`);
  return ms;
}

export function integerIn(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) badConfig(`${what} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return value;
}
