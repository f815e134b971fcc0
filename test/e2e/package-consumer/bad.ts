import { connect } from 'shoal';
import type { handlers } from './handlers.js';

// Each call below is a deliberate mistake that tsc must refuse.
const client = await connect<typeof handlers>({ url: 'amqp://127.0.0.1', namespace: 'shoal' });
await client.call('resise', { url: 'cat.png', width: 200 }); // MISTAKE: no such job
await client.call('resize', { url: 'cat.png', width: '200' }); // MISTAKE: width is a number
const name: number = await client.call('greet', { name: 'x' }); // MISTAKE: greet returns a string
await client.call('greet', { name: 'x' }, { timeout: 'soon' }); // MISTAKE: not a duration
export { name };
