#!/usr/bin/env node
import { Command } from 'commander';
import { commonSettings, ConfigError, parseSettings } from '../../infra/config.js';
import { readRedisOnce, redisSettings } from '../../infra/redis.js';
import { statusKey, type PoolStatus } from '../../infra/pool-status.js';
import { addSettingFlags, runMain } from '../../infra/cli.js';

/** Shows a running pool: its workers and their states, the queue, the latency and the last decisions. */
const statusSettings = { namespace: commonSettings.namespace, ...redisSettings };
const program = addSettingFlags(
  new Command('shoal-status')
    .description("Show a running pool's workers, queue, latency and last scaling decisions.")
    .option('--json', 'print the raw status as JSON'),
  statusSettings,
).showHelpAfterError();

export function formatStatus(s: PoolStatus, now: number): string {
  const o = s.observation;
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)} ms`);
  const time = (at: number) => new Date(at).toISOString().slice(11, 19);
  const lines = [
    `pool ${s.namespace}  policy ${s.policy}  target p95 wait ${s.targetWaitP95Ms} ms  runtime ${s.runtime}  min ${s.min}  max ${s.max}  spares ${s.spares}  (as of ${Math.round((now - s.at) / 1000)} s ago)`,
    `queue  backlog ${o.backlog}  in flight ${o.inFlight}  arrival ${o.arrivalRate.toFixed(1)}/s  service ${ms(o.serviceMs)}  p95 wait ${ms(o.waitP95Ms)}  desired ${s.desired}`,
    `workers (${s.members.length})`,
    ...s.members.map((m) => `  ${m.workerId.padEnd(32)} ${(m.role === 'spare' ? 'spare' : m.state).padEnd(9)} in flight ${m.inFlight}`),
    'last decisions',
    ...(s.decisions.length ? s.decisions.slice(0, 10).map((d) => `  ${time(d.at)}  ${d.reason}`) : ['  (none yet)']),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<Record<string, unknown>>();
  const config = parseSettings(statusSettings, process.env, opts);
  if (config.redisUrl === 'off') throw new ConfigError(['SHOAL_REDIS_URL (--redis-url) must be set: the status lives in Redis']);
  const raw = await readRedisOnce(config.redisUrl, (redis) => redis.get(statusKey(config.namespace)));
  if (!raw) {
    process.stderr.write(`no running dispatcher for pool "${config.namespace}" (no status in Redis)\n`);
    return 1;
  }
  const status = JSON.parse(raw) as PoolStatus;
  process.stdout.write(opts.json ? `${raw}\n` : `${formatStatus(status, Date.now())}\n`);
  return 0;
}

runMain('shoal-status', main);
