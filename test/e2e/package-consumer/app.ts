import { connect, ERROR_CODES, RemoteJobError, type ErrorCode } from 'shoal';
import type { handlers } from './handlers.js';

/** An application's client: calls the pool, typed by the handler module; `await using` closes it at the end. */
await using client = await connect<typeof handlers>({ url: process.env.POOL_URL!, namespace: process.env.POOL_NAMESPACE! });
const size = await client.call('resize', { url: 'cat.png', width: 200 }, { timeout: '5s' });
const height: number = size.height; // the result is typed
const greeting: string = await client.call('greet', { name: 'shoal' }, { timeout: 5000, signal: AbortSignal.timeout(5000) });
let refused: { code: string; known: boolean } | undefined;
try {
  await client.call('resize', { url: 'cat.png', width: 0 });
} catch (err) {
  if (err instanceof RemoteJobError) refused = { code: err.code, known: err.code in ERROR_CODES };
}
const timeoutCode: ErrorCode = 'TIMEOUT';
console.log(JSON.stringify({ size, height, greeting, refused, timeoutCode }));
