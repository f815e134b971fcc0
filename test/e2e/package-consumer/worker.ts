import { runWorker } from 'shoal/worker';
import { handlers } from './handlers.js';

/** Runs the handler module in this process until SIGTERM; prints "ready" once it consumes. */
const worker = await runWorker({ url: process.env.POOL_URL!, namespace: process.env.POOL_NAMESPACE!, handlers, workerId: 'consumer-app-worker' });
console.log(JSON.stringify({ ready: worker.id }));
process.once('SIGTERM', () => void worker.close());
const reason = await worker.closed;
console.log(JSON.stringify({ closed: reason, processed: worker.stats().processed }));
