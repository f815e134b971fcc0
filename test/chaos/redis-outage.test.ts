import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/protocol.js';
import { connectClient, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWithFaults, printAccounting, quitAndCheckNothingLeft } from '../helpers/chaos.js';
import { runCli, startDispatcher } from '../helpers/processes.js';
import { redisUp, sharedRedis, startRedis, stopRedis, type RedisServer } from '../helpers/redis.js';

// Restarted with the setup's command line (infra/start-redis.sh), in the directory it ran in.
let redis: RedisServer | undefined;

describe('chaos: Redis stops during load', () => {
  let namespace: string;
  afterEach(async () => {
    if (redis && !redisUp(redis.port)) await startRedis(redis);
    await waitFor('Redis', () => redisUp());
    await runCli('dispatcher/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('the dispatcher scales on broker metrics alone, warns once, recovers when Redis returns; nothing lost', async () => {
    namespace = newNamespace();
    redis = sharedRedis();
    const started = startDispatcher(['--runtime', 'docker', '--min', '1', '--max', '4', '--spares', '0', '--metrics-port', '0', '--namespace', namespace]);
    await waitFor('a consuming worker', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);
    const client = await connectClient(namespace);
    try {
      const account = await loadWithFaults(client, { count: 2400, ratePerSec: 150, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 }, [300], async () => {
        await stopRedis(redis!, 'shutdown nosave');
        await sleep(6000);
        await startRedis(redis!);
      });
      printAccounting('Redis outage (6 s)', account);
      expect(account).toMatchObject({ sent: 2400, answered: 2400, ok: 2400, lost: 0, faults: 1 });
    } finally {
      await client.close();
    }
    const log = started.output();
    expect(log.split('metrics source unavailable; scaling on the others').length - 1).toBe(1); // warned once
    expect(log).toContain('metrics source is back');
    expect(log).toMatch(/"msg":"1 -> [2-4]:/); // it grew under load
    expect(alive(started.child)).toBe(true);

    await quitAndCheckNothingLeft(namespace, started.child);
  });
});
