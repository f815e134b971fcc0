import type { GetMessage, Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { describeDeadLetter, requeueCopy } from '../../infra/amqp/dead-letter-message.js';
import { previewBody } from '../../infra/dead-letter-summary.js';
import type { JobContext } from '../../worker/jobs.js';
import { REPLY_TO_DIRECT, topologyFor } from '../../infra/amqp/topology.js';
import { HEADER_SENT_AT, HEADER_VERSION } from '../../infra/protocol.js';
import { rawChannel, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { runCli } from '../helpers/processes.js';

/** `shoal-dead` (dist/dispatcher/tools/dead-letters.js) against the real broker: it looks, it moves, it never loses one. */
describe('shoal-dead', () => {
  const pool = usePool();
  const dead = (...args: string[]) => runCli('dispatcher/tools/dead-letters.js', [...args, '--namespace', pool.namespace]);

  async function queueDepth(queue: 'deadQueue' | 'requestQueue'): Promise<number> {
    const { connection, channel } = await rawChannel();
    try {
      return (await channel.checkQueue(topologyFor(pool.namespace)[queue])).messageCount;
    } finally {
      await connection.close();
    }
  }

  const deadLetters = (count: number) => waitFor(`${count} dead letters`, async () => (await queueDepth('deadQueue')) === count);

  /** Raw requests a worker dead-letters at once: no replyTo, malformed, an unknown job, a failing job. */
  async function publishPoison(): Promise<void> {
    const { connection, channel } = await rawChannel();
    const queue = topologyFor(pool.namespace).requestQueue;
    const headers = { [HEADER_VERSION]: 1 };
    // The broker refuses a replyTo of direct reply-to unless this channel consumes from it.
    await channel.consume(REPLY_TO_DIRECT, () => undefined, { noAck: true });
    channel.sendToQueue(queue, Buffer.from('{not json'), { messageId: 'm-malformed', correlationId: 'c-1', headers });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ job: 'nope', payload: null })), { messageId: 'm-unknown', correlationId: 'c-2', replyTo: REPLY_TO_DIRECT, type: 'nope', headers });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ job: 'boom', payload: { n: 1 } })), { messageId: 'm-boom', correlationId: 'c-3', replyTo: REPLY_TO_DIRECT, type: 'boom', expiration: '60000', headers });
    await channel.waitForConfirms();
    await connection.close();
  }

  it('lists dead letters with their reason and leaves every one in the queue', async () => {
    await pool.worker('w', { deliveryLimit: 1, handlers: { boom: () => { throw new Error('kaput'); } } });
    await publishPoison();
    await deadLetters(3);

    const listed = await dead('list');
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    const line = (id: string) => lines.find((l) => l.startsWith(`${id} `));
    expect(line('m-malformed')).toMatch(/corr c-1 {2}job - {2}rejected in test-\S+\.requests {2}at \d{4}-\d\d-\d\dT\S+ {2}9 B {2}"\{not json"$/);
    expect(line('m-unknown')).toContain('job nope  rejected');
    expect(line('m-boom')).toContain('job boom  rejected');
    expect(lines[3]).toBe(`showed 3; ${pool.namespace}.dead holds 3 dead letter(s), all still there`);
    expect(await queueDepth('deadQueue')).toBe(3);

    const json = await dead('list', '--json', '--limit', '2');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { total: number; shown: number; deadLetters: Record<string, unknown>[] };
    expect(parsed).toMatchObject({ queue: `${pool.namespace}.dead`, total: 3, shown: 2 });
    expect(parsed.deadLetters).toHaveLength(2);
    for (const letter of parsed.deadLetters) {
      expect(letter).toMatchObject({ reason: 'rejected', queue: `${pool.namespace}.requests`, diedAt: expect.stringMatching(/^\d{4}-/) });
    }

    // Listing again and again shows the same letters and loses none.
    const again = await dead('list', '--json');
    const ids = (JSON.parse(again.stdout) as { deadLetters: { messageId: string; originalExpiration: string | null }[] }).deadLetters;
    expect(ids.map((d) => d.messageId).sort()).toEqual(['m-boom', 'm-malformed', 'm-unknown']);
    expect(ids.find((d) => d.messageId === 'm-boom')?.originalExpiration).toBe('60000');
    expect(await queueDepth('deadQueue')).toBe(3);
  });

  it('requeues only the named job; a worker then runs those, and the counts add up', async () => {
    let broken = true;
    const contexts: JobContext[] = [];
    const worker = await pool.worker('w', {
      deliveryLimit: 1,
      handlers: {
        fixme: (payload, ctx) => {
          contexts.push(ctx);
          if (broken) throw new Error('not fixed yet');
          return payload;
        },
      },
    });
    const client = await pool.client(1);
    // Through the real client: these carry an expiration (the call's timeout) and a sent-at header.
    const calls = [
      ...[1, 2, 3].map((n) => client.call('fixme', { n }, 10_000)),
      ...[1, 2].map((n) => client.call('unknown-job', { n }, 10_000)),
    ];
    const replies = await Promise.all(calls);
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['JOB_FAILED', 'JOB_FAILED', 'JOB_FAILED', 'UNKNOWN_JOB', 'UNKNOWN_JOB']);
    await deadLetters(5);
    expect(worker.stats().processed).toBe(0);

    broken = false;
    contexts.length = 0;
    const moved = await dead('requeue', '--all', '--job', 'fixme');
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`moved 3 dead letter(s) of job "fixme" from ${pool.namespace}.dead to ${pool.namespace}.requests`);
    expect(moved.stdout).toContain('3 of them had an expiration');
    expect(moved.stdout).toContain(`left 2 dead letter(s) of other jobs in ${pool.namespace}.dead`);

    await waitFor('the worker to run the requeued jobs', () => worker.stats().processed === 3);
    // Fresh copies: no earlier deliveries, and no deadline from a caller that gave up long ago.
    expect(contexts.map((c) => [c.deliveryCount, c.deadline])).toEqual([[0, undefined], [0, undefined], [0, undefined]]);
    await deadLetters(2);
    expect(await queueDepth('requestQueue')).toBe(0);

    const rest = JSON.parse((await dead('list', '--json')).stdout) as { total: number; deadLetters: { job: string }[] };
    expect(rest.total).toBe(2);
    expect(rest.deadLetters.map((d) => d.job)).toEqual(['unknown-job', 'unknown-job']);
  });

  it('requeues a bounded number, keeping the properties and dropping the broker history', async () => {
    const worker = await pool.worker('w', { deliveryLimit: 1, handlers: { boom: () => { throw new Error('kaput'); } } });
    await publishPoison();
    await deadLetters(3);
    await worker.close(); // nobody consumes: the copies stay in the request queue to be looked at

    const moved = await dead('requeue', '--limit', '2');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('moved 2 dead letter(s) from');
    expect(await queueDepth('deadQueue')).toBe(1);

    const { connection, channel } = await rawChannel();
    try {
      const copies: GetMessage[] = [];
      for (;;) {
        const copy = await channel.get(topologyFor(pool.namespace).requestQueue, { noAck: true });
        if (!copy) break;
        copies.push(copy);
      }
      const left = await channel.get(topologyFor(pool.namespace).deadQueue, { noAck: false });
      if (!left) throw new Error('the third dead letter is missing');
      const ids = [...copies, left].map((m) => m.properties.messageId as string);
      expect(ids.sort()).toEqual(['m-boom', 'm-malformed', 'm-unknown']); // 2 moved + 1 left = 3: none lost, none doubled
      for (const copy of copies) {
        const headers = copy.properties.headers ?? {};
        expect(Object.keys(headers).filter((k) => k.startsWith('x-death') || k.startsWith('x-first-death'))).toEqual([]);
        expect(headers[HEADER_VERSION]).toBe(1);
        expect(copy.properties.expiration).toBeUndefined();
        expect(copy.properties.correlationId).toMatch(/^c-\d$/);
      }
      const unknown = copies.find((m) => m.properties.messageId === 'm-unknown');
      if (unknown) expect(unknown.properties).toMatchObject({ type: 'nope', replyTo: expect.stringContaining(REPLY_TO_DIRECT) });
    } finally {
      await connection.close();
    }
  });

  it('says which queue is missing when the pool never ran, and refuses an unbounded requeue', async () => {
    const listed = await dead('list');
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(`the dead-letter queue ${pool.namespace}.dead does not exist`);
    expect(listed.stderr).toContain('--namespace');

    const unbounded = await dead('requeue');
    expect(unbounded.code).toBe(2);
    expect(unbounded.stderr).toContain('needs --limit N or --all');
  });
});

describe('dead-letter descriptions (pure)', () => {
  const message = (content: string | Buffer, properties: Record<string, unknown>): Message =>
    ({ content: Buffer.isBuffer(content) ? content : Buffer.from(content), fields: {}, properties }) as unknown as Message;

  const deathHeaders = {
    'x-death': [{ count: 1, reason: 'expired', queue: 'p.requests', time: { '!': 'timestamp', value: 1_700_000_000 }, exchange: '', 'routing-keys': ['p.requests'], 'original-expiration': '5000' }],
    'x-first-death-reason': 'expired',
    'x-first-death-queue': 'p.requests',
    'x-first-death-exchange': '',
    'x-last-death-reason': 'expired',
    'x-delivery-count': 3,
  };

  it('reads the reason, queue, time and job of a dead letter', () => {
    const summary = describeDeadLetter(message('{"job":"sleep","payload":{"ms":1}}', { messageId: 'm', correlationId: 'c', type: 'echo', headers: deathHeaders }));
    expect(summary).toEqual({
      messageId: 'm', correlationId: 'c', job: 'sleep', reason: 'expired', queue: 'p.requests', diedAt: 1_700_000_000_000,
      bytes: 34, preview: '"{\\"job\\":\\"sleep\\",\\"payload\\":{\\"ms\\":1}}"', originalExpiration: '5000',
    });
    expect(describeDeadLetter(message('garbage', { type: 'cpu' })).job).toBe('cpu');
    expect(describeDeadLetter(message('garbage', {}))).toMatchObject({ job: undefined, reason: undefined, diedAt: undefined });
  });

  it('previews bodies on one printable line', () => {
    expect(previewBody(Buffer.from([0x00, 0x41, 0x0a, 0xff]), 80)).toBe('"\\x00A\\x0a\\ufffd"');
    expect(previewBody(Buffer.from('x'.repeat(100)), 80)).toBe(`"${'x'.repeat(80)}"…`);
  });

  it('builds a fresh copy: application headers kept, history and expiration dropped, sent-at restamped', () => {
    const original = message('{}', {
      messageId: 'm', correlationId: 'c', replyTo: 'amq.rabbitmq.reply-to.abc', type: 'echo', contentType: 'application/json',
      expiration: '30000', userId: 'someone', timestamp: 1_700_000_000,
      headers: { ...deathHeaders, [HEADER_VERSION]: 1, [HEADER_SENT_AT]: 1_700_000_000_000, 'x-custom': 'kept' },
    });
    const { options, hadExpiration } = requeueCopy(original, 42);
    expect(hadExpiration).toBe(true);
    expect(options).toEqual({
      mandatory: true, persistent: true, messageId: 'm', correlationId: 'c', replyTo: 'amq.rabbitmq.reply-to.abc', type: 'echo',
      contentType: 'application/json', timestamp: 1_700_000_000,
      headers: { [HEADER_VERSION]: 1, [HEADER_SENT_AT]: 42, 'x-custom': 'kept' },
    });
    expect(requeueCopy(message('{}', {}), 42)).toEqual({ options: { mandatory: true, persistent: true, headers: {} }, hadExpiration: false });
  });
});
