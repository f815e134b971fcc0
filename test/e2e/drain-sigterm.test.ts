import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import type { Reply } from '../../infra/protocol.js';
import { workerReportKey } from '../../infra/redis.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import type { WorkerRuntime } from '../../infra/runtime/types.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { runLoad } from '../../producer/load.js';
import { AMQP_URL, connectClient, consumerCount, newNamespace, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';

/**
 * The drain a runtime does when the pool scales down or stops (`runtime.drain`:
 * SIGTERM, as `docker stop` sends it), on a worker that holds work: it must
 * finish and answer what it holds, and nothing may be lost. The in-process
 * drain (a control message) is in test/integration/drain.test.ts.
 */
const runtimes: Record<string, (namespace: string) => { runtime: WorkerRuntime; leftovers: () => Promise<number> }> = {
  process: () => {
    const runtime = new ProcessRuntime({ stdio: 'ignore' });
    return { runtime, leftovers: async () => (await runtime.list()).filter((w) => w.running).length };
  },
  docker: (namespace) => {
    const runtime = new DockerRuntime({ docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger: pino({ level: 'silent' }) });
    return { runtime, leftovers: async () => (await poolContainers(namespace)).length };
  },
};

/** 250 `sleep` jobs of 200 ms at 25/s: two workers of concurrency 4 hold about 2.5 each. */
const LOAD = { count: 250, ratePerSec: 25, concurrency: 1000, job: 'sleep', payload: { ms: 200 }, timeoutMs: 60_000 };
const CONCURRENCY = 4;

describe.each(Object.keys(runtimes))('draining a busy worker with SIGTERM (%s runtime)', (kind) => {
  let namespace: string;
  let subject: ReturnType<(typeof runtimes)[string]>;
  let client: RpcCaller | undefined;
  let redis: Redis;

  beforeEach(() => {
    namespace = newNamespace();
    subject = runtimes[kind]!(namespace);
    redis = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const worker of await subject.runtime.list()) await subject.runtime.remove(worker.workerId);
    expect(await subject.leftovers()).toBe(0);
    await subject.runtime.close();
    redis.disconnect();
    await removeNamespace(namespace);
  });

  it('finishes and answers the jobs it holds: sent = answered, 0 lost, redeliveries bounded', async () => {
    const env = {
      SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: REDIS_URL, SHOAL_LOG_LEVEL: 'warn',
      SHOAL_CONCURRENCY: String(CONCURRENCY), SHOAL_REPORT_INTERVAL_MS: '100',
    };
    const [a, b] = await Promise.all(['a', 'b'].map((id) => subject.runtime.start({ workerId: `${namespace}-${id}`, role: 'worker', env })));
    await waitFor('two consumers', async () => (await consumerCount(topologyFor(namespace))) === 2, 30_000);
    client = await connectClient(namespace);

    // Every reply, with the worker that sent it and when it landed.
    const replies: { workerId: string; at: number; redelivered: boolean }[] = [];
    const caller = {
      call: async (job: string, payload: unknown, timeoutMs: number): Promise<Reply> => {
        const reply = await client!.call(job, payload, timeoutMs);
        replies.push({ workerId: reply.workerId, at: Date.now(), redelivered: reply.redelivered === true });
        return reply;
      },
    };
    const load = runLoad(caller, LOAD);

    // Drain worker a once it reports work in flight (reports every 100 ms; a job lasts 200 ms).
    let drainStartedAt = 0;
    const inFlightOfA = async () => {
      const raw = await redis.get(workerReportKey(namespace, a!.workerId));
      return raw ? (JSON.parse(raw) as { inFlight: number }).inFlight : 0;
    };
    const drained = (async () => {
      await waitFor('worker a to hold 2+ jobs after 40 replies', async () => replies.length >= 40 && (await inFlightOfA()) >= 2, 20_000);
      drainStartedAt = Date.now();
      return subject.runtime.drain(a!.workerId, 10_000);
    })();

    const [summary, exit] = await Promise.all([load, drained]);
    const redelivered = replies.filter((r) => r.redelivered).length;
    const answeredByAAfterSigterm = replies.filter((r) => r.workerId === a!.workerId && r.at >= drainStartedAt).length;
    const lost = summary.timedOut + (summary.errorsByCode.PUBLISH_NACKED ?? 0) + (summary.errorsByCode.UNROUTABLE ?? 0);
    console.log(
      `drain by SIGTERM (${kind}): sent ${summary.sent}, answered ${summary.ok + summary.errors} (ok ${summary.ok}), lost ${lost}, ` +
        `redelivered ${redelivered}, answered by the drained worker after SIGTERM ${answeredByAAfterSigterm}, ` +
        `by worker: a ${summary.repliesByWorker[a!.workerId] ?? 0}, b ${summary.repliesByWorker[b!.workerId] ?? 0}`,
    );

    expect(exit).toMatchObject({ workerId: a!.workerId, exitCode: 0, reason: 'exited' }); // drained, not killed at the grace
    expect(summary).toMatchObject({ sent: LOAD.count, ok: LOAD.count, errors: 0, timedOut: 0 });
    expect(lost).toBe(0);
    // It held work when SIGTERM came, and answered that work itself instead of dropping it.
    expect(answeredByAAfterSigterm).toBeGreaterThan(0);
    // Only what was on its way when the consumer was cancelled comes back (rabbitmq-server#3729): at most a prefetch.
    expect(redelivered).toBeLessThanOrEqual(CONCURRENCY);
    // The other worker carried the rest of the load.
    expect(summary.repliesByWorker[b!.workerId]).toBeGreaterThan(summary.repliesByWorker[a!.workerId]!);
    expect(await consumerCount(topologyFor(namespace))).toBe(1);
  });
});
