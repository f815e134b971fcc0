import { describe, expect, it } from 'vitest';
import { AMQP_URL } from '../helpers/broker.js';
import { useLibraryWorkers } from '../helpers/fixture.js';
import { runCli } from '../helpers/processes.js';

/**
 * README.md: "The producer exits 0 only when every request got an ok reply,
 * 1 when any failed or timed out". Timeouts and bad input are in
 * dispatcher.test.ts ("command-line input"); here, error replies.
 */
describe('the producer CLI exit status (rabbitmq)', () => {
  const pool = useLibraryWorkers();

  it('exits 0 when every request got an ok reply, and 1 when a single one got an error reply; prints its delivery counts', async () => {
    let calls = 0;
    await pool.worker({ url: AMQP_URL, handlers: {
        // Fails its second call only.
        secondFails: () => {
          calls++;
          if (calls === 2) throw new Error('the second call fails');
          return calls;
        },
      },
    });
    const args = ['--namespace', pool.namespace, '--concurrency', '1'];

    const allOk = await runCli('producer/cli.js', [...args, '--count', '5', '--job', 'echo']);
    expect(allOk.stdout).toContain('sent 5  ok 5  errors 0  timed out 0');
    expect(allOk.stdout).toContain('delivery  confirmed 5  republished 0  duplicate replies dropped 0  late replies dropped 0');
    expect(allOk.code).toBe(0);

    const oneFailed = await runCli('producer/cli.js', [...args, '--count', '5', '--job', 'secondFails']);
    expect(oneFailed.stdout).toContain('sent 5  ok 4  errors 1  timed out 0');
    expect(oneFailed.code).toBe(1);
  });
});
