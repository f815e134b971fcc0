import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { AMQP_URL } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

const run = promisify(execFile);
/** Debian's Python, which has python3-pika (infra/setup.sh installs it); a python3 earlier on PATH may not. */
const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('../conformance/client.py', import.meta.url));

/**
 * Another language speaks the protocol: a Python client (pika), written from
 * infra/transport/PROTOCOL.md, calls a pool of shoal workers over RabbitMQ.
 * It checks a good request, bad ones (each answered with a clear error code),
 * and a timeout (the request expires unanswered and is dead-lettered).
 */
describe('a Python client (pika) speaks the protocol', () => {
  const pool = usePool('rabbitmq');

  beforeAll(async () => {
    const pika = await run(PYTHON, ['-c', 'import pika; print(pika.__version__)']).catch((err: Error) => err);
    if (pika instanceof Error) throw new Error(`${PYTHON} cannot import pika: run \`npm run setup\` (it installs python3-pika) or \`apt-get install -y python3-pika\`\n${pika.message}`);
    expect(existsSync(CLIENT)).toBe(true);
  });

  it('gets a reply to a good request, error replies to bad ones, and no reply to one that expired', async () => {
    // One job at a time, so that a 2 s sleep keeps the worker busy while a request expires.
    await pool.worker('py-peer', { concurrency: 1, deliveryLimit: 5 });
    const { stdout } = await run(PYTHON, [CLIENT, AMQP_URL, pool.namespace], { timeout: 50_000 });
    const seen = JSON.parse(stdout) as Record<string, { body: Record<string, unknown>; contentType: string | null; protocol: number | null } | null> & { dead: { expired: string | null; count: number } };

    // Replies carry no headers and no content type: a missing shoal-protocol means version 1 (PROTOCOL.md).
    const errorReply = (code: string) => ({ body: expect.objectContaining({ ok: false, error: { code, message: expect.any(String) }, workerId: 'py-peer' }), contentType: null, protocol: null });
    expect(seen.echo).toEqual({
      body: { ok: true, result: { hello: 'from python', n: [1, 2, 3] }, workerId: 'py-peer', timings: { queuedMs: expect.any(Number), serviceMs: expect.any(Number) } },
      contentType: null,
      protocol: null,
    });
    expect(seen.sleep?.body).toMatchObject({ ok: true, result: { sleptMs: 10 } });

    expect(seen.unknownJob).toEqual(errorReply('UNKNOWN_JOB'));
    expect(seen.unknownJob?.body.error).toEqual({ code: 'UNKNOWN_JOB', message: 'no handler for job "no-such-job"' });
    expect(seen.badPayload).toEqual(errorReply('BAD_PAYLOAD'));
    expect(seen.malformedJson).toEqual(errorReply('MALFORMED_JSON'));
    expect(seen.badRequest).toEqual(errorReply('BAD_REQUEST'));
    expect(seen.newerVersion).toEqual(errorReply('UNSUPPORTED_VERSION'));

    // The timeout: no reply, not even once the worker was free, and the request went to <ns>.dead.
    expect(seen.expiredReply).toBeNull();
    expect(seen.expiredReplyLater).toBeNull();
    expect(seen.busyReply?.body).toMatchObject({ ok: true, result: { sleptMs: 2000 } });
    expect(['expired', 'rejected']).toContain(seen.dead.expired);
    // Every bad request was dead-lettered too, and nothing good was.
    expect(seen.dead.count).toBe(6);
  });
});
