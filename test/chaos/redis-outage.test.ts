import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { runLoad } from '../../producer/load.js';
import type { LoadSummary } from '../../producer/summary.js';
import { connectClient, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWithFaults, printAccounting, quitAndCheckNothingLeft } from '../helpers/chaos.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { redisUp, sharedRedis, startRedis, stopRedis, type RedisServer } from '../helpers/redis.js';

/** The dispatcher's scaling decisions from its JSON log: the message starts "<from> -> <to>:". */
function scalingDecisions(log: string): { time: number; from: number; to: number }[] {
  return log.split('\n').flatMap((line) => {
    const match = /"time":(\d+).*"msg":"(\d+) -> (\d+):/.exec(line);
    return match ? [{ time: Number(match[1]), from: Number(match[2]), to: Number(match[3]) }] : [];
  });
}

// Restarted with the setup's command line (infra/start-redis.sh), in the directory it ran in.
let redis: RedisServer | undefined;

describe('chaos: Redis stops during load', () => {
  let namespace: string;
  let dispatcher: ChildProcess | undefined;
  afterEach(async () => {
    // A failed assertion leaves the dispatcher running: it would start workers again after the clean-up.
    if (dispatcher && alive(dispatcher)) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    if (redis && !redisUp(redis.port)) await startRedis(redis);
    await waitFor('Redis', () => redisUp());
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('the dispatcher scales up on broker metrics alone during the outage, warns once, recovers when Redis returns; nothing lost', async () => {
    namespace = newNamespace();
    redis = sharedRedis();
    const started = startDispatcher(['--runtime', 'docker', '--min', '1', '--max', '4', '--spares', '0', '--metrics-port', '0', '--namespace', namespace]);
    dispatcher = started.child;
    await waitFor('a consuming worker', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);
    const client = await connectClient(namespace);
    const outage = { from: 0, to: 0 };
    let burst: LoadSummary | undefined;
    try {
      // A light load that one worker carries (2 of its 4 slots) runs throughout. The burst that needs
      // more workers (150/s of 50 ms: 7.5 slots) comes only while Redis is down, so the scale-up it
      // causes can only have been decided on the broker's metrics.
      const account = await loadWithFaults(client, { count: 720, ratePerSec: 40, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 }, [120], async () => {
        await stopRedis(redis!, 'shutdown nosave');
        outage.from = Date.now();
        const burstDone = runLoad(client, { count: 600, concurrency: 1000, ratePerSec: 150, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 });
        await sleep(6000);
        outage.to = Date.now();
        await startRedis(redis!);
        burst = await burstDone;
      });
      printAccounting('Redis outage (6 s), light load throughout', account);
      expect(account).toMatchObject({ sent: 720, answered: 720, ok: 720, lost: 0, faults: 1 });
      console.log(`chaos Redis outage (6 s), burst during it: sent ${burst!.sent}, ok ${burst!.ok}, errors ${burst!.errors}, timed out ${burst!.timedOut}`);
      expect(burst).toMatchObject({ sent: 600, ok: 600, errors: 0, timedOut: 0 });
    } finally {
      await client.close();
    }
    const log = started.output();
    expect(log.split('metrics source unavailable; scaling on the others').length - 1).toBe(1); // warned once
    expect(log).toContain('metrics source is back');
    // It grew while Redis was down: a decision to scale up, timed (pino's "time") within the outage.
    const decisions = scalingDecisions(log);
    console.log(`decisions, in ms from the outage's start (it lasted ${outage.to - outage.from} ms): ${decisions.map((d) => `${d.time - outage.from}: ${d.from} -> ${d.to}`).join('; ')}`);
    const upDuringOutage = decisions.filter((d) => d.to > d.from && d.time >= outage.from && d.time <= outage.to);
    expect(upDuringOutage.length, 'scale-ups decided while Redis was down').toBeGreaterThan(0);
    expect(alive(started.child)).toBe(true);

    await quitAndCheckNothingLeft(namespace, started.child);
  });
});
