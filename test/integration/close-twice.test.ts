import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { createRedis } from '../../infra/redis.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import { connectDispatcherLink } from '../../infra/transport/factory.js';
import { WorkerReporter } from '../../worker/reporter.js';
import { AMQP_URL, connectClient, quietLogger, REDIS_URL, startWorker } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/**
 * Every close() in shoal may be called more than once (a signal and a quit
 * message may both ask): each returns the same promise, and it settles.
 */
describe.each(EACH_TRANSPORT)('closing twice (%s)', (transport) => {
  const pool = usePool(transport);

  const expectCloseOnce = async (what: string, closable: { close(): Promise<void> }) => {
    const first = closable.close();
    expect(closable.close(), what).toBe(first);
    await first;
    expect(closable.close(), what).toBe(first);
  };

  it('the client, the worker and its consumer, the reporter, the dispatcher link and a runtime return the same promise', async () => {
    const { namespace } = pool;
    await expectCloseOnce('client', await connectClient(namespace, 5, transport));
    await expectCloseOnce('worker', await startWorker(namespace, 'twice', { transport }));
    const reporter = new WorkerReporter(createRedis(REDIS_URL, 'shoal test reporter', quietLogger), namespace, 'twice', () => ({ role: 'worker', state: 'active', inFlight: 0, processed: 0, failed: 0, redelivered: 0, serviceMsTotal: 0, waitBuckets: [] }), 1000);
    reporter.start();
    await expectCloseOnce('reporter', reporter);
    const onQuit = () => undefined;
    const link = await connectDispatcherLink({ transport, amqpUrl: AMQP_URL, redisUrl: REDIS_URL, topology: topologyFor(namespace), deliveryLimit: 5, logger: quietLogger, onQuit });
    await expectCloseOnce('dispatcher link', link);
    await expectCloseOnce('process runtime', new ProcessRuntime());
  });
});
