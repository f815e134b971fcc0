import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, ValidationError } from './errors.js';

/**
 * Config is parsed once, from environment variables and CLI flags (flags win),
 * into a narrowed type with defaults. Errors name the variable and the flag so
 * that a person knows what to fix, e.g.
 *   "SHOAL_CONCURRENCY (--concurrency) must be >= 1 (got "-3")".
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  env: string;
  flag?: string;
  schema: T;
  /** The flag's help line; its default and variable are added from the schema (infra/cli.ts). */
  help?: string;
  /** A one-letter alias, e.g. "-n". */
  short?: string;
  /** What the value looks like in help, when the kind's own (<n>, <duration>...) says too little. */
  placeholder?: string;
}

export type Settings = Record<string, Setting>;
export type ParsedSettings<S extends Settings> = { [K in keyof S]: z.output<S[K]['schema']> };

export { ConfigError };

export function settingName(setting: Setting): string {
  return setting.flag ? `${setting.env} (${setting.flag})` : setting.env;
}

export function parseSettings<S extends Settings>(
  settings: S,
  env: NodeJS.ProcessEnv,
  flags: Record<string, unknown> = {},
): ParsedSettings<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const fromEnv = env[setting.env];
    const fromFlag = setting.flag ? flags[flagKey(setting.flag)] : undefined;
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    const result = setting.schema.safeParse(raw);
    if (result.success) {
      out[key] = result.data;
    } else {
      const issue = result.error.issues[0];
      problems.push(`${settingName(setting)} ${issue?.message ?? 'is invalid'} (got ${JSON.stringify(raw)})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ParsedSettings<S>;
}

/** The key commander gives a flag: "--drain-grace" -> "drainGrace", "--no-progress" -> "progress". */
export function flagKey(flag: string): string {
  return flag.replace(/^--(no-)?/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Fails with one readable line when a cross-field rule is broken. */
export function requireThat(ok: boolean, problem: string): void {
  if (!ok) throw new ConfigError([problem]);
}

// ---- setting kinds -------------------------------------------------------

/** How a kind's value is written on a command line and its default shown in help, by schema. */
const described = new WeakMap<z.ZodType, { placeholder: string; shownDefault?: string }>();

function registerKind<T extends z.ZodType>(schema: T, placeholder: string, shownDefault?: string): T {
  described.set(schema, { placeholder, shownDefault });
  return schema;
}

/** A setting's placeholder (`<n>`, `<duration>`...) and its default as a person writes it, if it has one. */
export function describeSetting(setting: Setting): { placeholder: string; shownDefault?: string } {
  return described.get(setting.schema) ?? { placeholder: '<value>' };
}

export function integer(opts: { default: number; min?: number; max?: number }) {
  let schema = z.coerce.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' });
  if (opts.min !== undefined) schema = schema.min(opts.min, { error: `must be >= ${opts.min}` });
  if (opts.max !== undefined) schema = schema.max(opts.max, { error: `must be <= ${opts.max}` });
  return registerKind(schema.default(opts.default), '<n>', String(opts.default));
}

/** A share between 0 and 1, e.g. 0.5. */
export function share(opts: { default: number }) {
  const schema = z.coerce
    .number({ error: 'must be a number between 0 and 1' })
    .min(0, { error: 'must be >= 0' })
    .max(1, { error: 'must be <= 1' })
    .default(opts.default);
  return registerKind(schema, '<share>', String(opts.default));
}

export function optionalNumber(opts: { min: number }) {
  const schema = z.coerce
    .number({ error: 'must be a number' })
    .min(opts.min, { error: `must be >= ${opts.min}` })
    .optional();
  return registerKind(schema, '<n>');
}

export function number(opts: { default: number; min: number }) {
  const schema = z.coerce
    .number({ error: 'must be a number' })
    .min(opts.min, { error: `must be >= ${opts.min}` })
    .default(opts.default);
  return registerKind(schema, '<n>', String(opts.default));
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

/** Parses "250", "250ms", "5s" or "1m" into milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  return Math.round(Number(match[1]) * UNIT_MS[unit]);
}

/** 5000 -> "5s", 250 -> "250ms", 60000 -> "1m": as a person writes a duration. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function duration(opts: { default: string | number; min?: number }) {
  const minMs = opts.min ?? 0;
  const schema = z
    .union([z.number(), z.string()])
    .default(opts.default)
    .transform((value, ctx) => {
      const ms = typeof value === 'number' ? value : parseDurationMs(value);
      if (ms === undefined || !Number.isFinite(ms)) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 500ms, 5s or 1m' });
        return z.NEVER;
      }
      if (ms < minMs) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${minMs}ms` });
        return z.NEVER;
      }
      return ms;
    });
  return registerKind(schema, '<duration>', typeof opts.default === 'number' ? formatDuration(opts.default) : opts.default);
}

const BYTES = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i;
const UNIT_BYTES = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** Parses "268435456", "256m" or "1g" into bytes. */
export function parseBytes(value: string): number | undefined {
  const match = BYTES.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_BYTES[(match[2] ?? '').toLowerCase() as keyof typeof UNIT_BYTES]);
}

export function byteSize(opts: { default: string; min: number }) {
  const schema = z
    .string()
    .default(opts.default)
    .transform((value, ctx) => {
      const bytes = parseBytes(value);
      if (bytes === undefined || bytes < opts.min) {
        ctx.addIssue({ code: 'custom', message: `must be a size like 256m or 1g, at least ${opts.min} bytes` });
        return z.NEVER;
      }
      return bytes;
    });
  return registerKind(schema, '<size>', opts.default);
}

export function text(opts: { default: string; pattern?: RegExp; hint?: string }) {
  let schema = z.string().min(1, { error: 'must not be empty' });
  if (opts.pattern) schema = schema.regex(opts.pattern, { error: opts.hint ?? `must match ${opts.pattern}` });
  // "-" stands for "none" in several settings: not worth showing as a default.
  return registerKind(schema.default(opts.default), '<text>', opts.default === '-' ? undefined : opts.default);
}

export function url(opts: { default: string; protocols: string[]; orLiteral?: string }) {
  const alternative = opts.orLiteral ? ` or "${opts.orLiteral}"` : '';
  const schema = z
    .string()
    .default(opts.default)
    .refine(
      (value) => {
        if (value === opts.orLiteral) return true;
        try {
          return opts.protocols.includes(new URL(value).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      { error: `must be a URL starting with ${opts.protocols.map((p) => `${p}://`).join(' or ')}${alternative}` },
    );
  return registerKind(schema, '<url>', opts.default);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) {
  return registerKind(z.enum(values, { error: `must be one of ${values.join(', ')}` }).default(fallback as never), '<name>', fallback);
}

export function flag(fallback: boolean) {
  const schema = z
    .union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])], { error: 'must be true or false' })
    .default(fallback)
    .transform((value) => value === true || value === '1' || value === 'true' || value === 'yes');
  return registerKind(schema, '');
}

// ---- settings every component shares -------------------------------------

/** A namespace names one pool: its queues, exchanges, Redis keys and container labels. */
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const commonSettings = {
  amqpUrl: {
    env: 'SHOAL_AMQP_URL',
    flag: '--amqp-url',
    help: 'broker URL',
    schema: url({ default: 'amqp://guest:guest@127.0.0.1:5672', protocols: ['amqp', 'amqps'] }),
  },
  namespace: {
    env: 'SHOAL_NAMESPACE',
    flag: '--namespace',
    help: 'pool namespace: names its queues, exchanges, Redis keys and container labels',
    schema: text({
      default: 'shoal',
      pattern: NAMESPACE_PATTERN,
      hint: 'must be lowercase letters, digits, ".", "_" or "-" (at most 63)',
    }),
  },
  deliveryLimit: {
    env: 'SHOAL_DELIVERY_LIMIT',
    flag: '--delivery-limit',
    help: 'deliveries of one request before it is dead-lettered',
    schema: integer({ default: 5, min: 1, max: 100 }),
  },
  maxBodyBytes: {
    env: 'SHOAL_MAX_BODY_BYTES',
    flag: '--max-body-bytes',
    help: 'largest request or reply body',
    schema: integer({ default: 1024 * 1024, min: 256, max: 64 * 1024 * 1024 }),
  },
} satisfies Settings;

/** The settings that may hold a password, and so may come from a file (a Swarm secret) instead. */
export const SECRET_URL_VARIABLES = ['SHOAL_AMQP_URL', 'SHOAL_REDIS_URL'] as const;
export type SecretUrlVariable = (typeof SECRET_URL_VARIABLES)[number];

/**
 * A Swarm secret arrives as a file: `<VARIABLE>_FILE` names the file that
 * holds the value of `<VARIABLE>` (the broker and the Redis URL), and wins over it.
 */
export function withUrlFiles(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let out = env;
  for (const variable of SECRET_URL_VARIABLES) {
    const file = env[`${variable}_FILE`];
    if (!file) continue;
    try {
      out = { ...out, [variable]: readFileSync(file, 'utf8').trim() };
    } catch (err) {
      throw new ValidationError('BAD_CONFIG', `${variable}_FILE names a file that cannot be read (got ${JSON.stringify(file)}): ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}
