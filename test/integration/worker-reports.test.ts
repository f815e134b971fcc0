import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connect } from '../../producer/index.js';
import { AMQP_URL, REDIS_URL, waitFor } from '../helpers/broker.js';
import { useLibraryWorkers } from '../helpers/fixture.js';

/** A pino logger whose lines land in an array. */
function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** worker/README.md, "Reports": where, how often and for how long a worker's report lives, and what a Redis outage does. */
describe('worker reports (rabbitmq)', () => {
  const pool = useLibraryWorkers();

  it('are written under <ns>:workers:<workerId> with a TTL of three report intervals, renewed at each report', async () => {
    const workerId = `reporting-${pool.namespace}`;
    await pool.worker({ url: AMQP_URL, handlers: {}, workerId, reportTo: REDIS_URL, reportInterval: '200ms' });
    const redis = new Redis(REDIS_URL);
    try {
      const key = `${pool.namespace}:workers:${workerId}`;
      const readReport = async () => (JSON.parse((await redis.get(key)) ?? 'null') as { reportedAt: number } | null) ?? undefined;
      const first = await waitFor('the first report', readReport);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(600); // 3 x 200 ms
      // The next reports renew it: the key outlives its first TTL.
      await waitFor('a later report', async () => ((await readReport())?.reportedAt ?? 0) > first.reportedAt);
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(await redis.exists(key)).toBe(1);
    } finally {
      await redis.quit();
    }
  });

  it('a new worker reports its first finished request at once, not at its next interval', async () => {
    const workerId = `waking-${pool.namespace}`;
    await pool.worker({ url: AMQP_URL, handlers: {}, workerId, reportTo: REDIS_URL, reportInterval: '10s' });
    const redis = new Redis(REDIS_URL);
    const client = await connect({ url: AMQP_URL, namespace: pool.namespace });
    try {
      const key = `${pool.namespace}:workers:${workerId}`;
      const readReport = async () => (JSON.parse((await redis.get(key)) ?? 'null') as { reportedAt: number; processed: number; serviceMsTotal: number } | null) ?? undefined;
      const idle = await waitFor('the first report', readReport);
      expect(idle.processed).toBe(0);
      expect(await client.call('echo', 'wake up', { timeout: '5s' })).toBe('wake up');
      // Well inside the 10 s interval: the report that follows the first finished request.
      const woken = await waitFor('a report of the finished request', async () => {
        const report = await readReport();
        return report && report.processed === 1 && report;
      }, 3_000);
      expect(woken.reportedAt).toBeGreaterThan(idle.reportedAt);
      expect(woken.reportedAt - idle.reportedAt).toBeLessThan(10_000);
    } finally {
      await client.close();
      await redis.quit();
    }
  });

  it('a Redis that cannot be reached is logged once and does not stall request work', async () => {
    const { logger, lines } = capturedLogger();
    await pool.worker({ url: AMQP_URL, handlers: {}, reportTo: 'redis://127.0.0.1:1', reportInterval: '100ms', logger });
    const client = await connect({ url: AMQP_URL, namespace: pool.namespace });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.call('echo', i, { timeout: '5s' })));
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
      // Reports keep failing meanwhile (one every 100 ms), and the client keeps reconnecting: still one warning.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await client.call('echo', 'still serving', { timeout: '5s' })).toBe('still serving');
    } finally {
      await client.close();
    }
    expect(lines.filter((line) => /Redis unavailable/.test(line.msg))).toHaveLength(1);
  });
});
