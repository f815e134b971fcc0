import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../producer/load.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { connectClient, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { poolContainers } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { countMembers, readEvents, readStatus, scaleDownsInsideWindow } from '../helpers/status.js';
import { EACH_TRANSPORT, poolConsumers, transportArgs } from '../helpers/transport.js';

const TARGET_MS = 200;
const RATE = 150; // x 50 ms = 7.5 busy slots: more than 1 worker of 4 can carry
const LOAD_SECONDS = 15;
const WINDOW_MS = 5_000;

/**
 * The autoscaler against RabbitMQ and the Docker runtime: an open-loop step of
 * 50 ms sleep jobs (a fixed arrival rate, not a fixed number in flight, since a
 * closed loop hides queueing), then nothing.
 */
describe.each(EACH_TRANSPORT)('autoscaling on a step load (%s)', (transport) => {
  let namespace: string;
  let dispatcher: ChildProcess | undefined;
  let client: RpcCaller | undefined;

  afterEach(async () => {
    await client?.close();
    if (dispatcher && dispatcher.exitCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('grows under load, meets the target again, shrinks back to min plus spares, and answers everything exactly once', async () => {
    namespace = newNamespace();
    const started = startDispatcher([
      '--runtime', 'docker', '--min', '1', '--max', '6', '--spares', '1', '--target-wait-p95', `${TARGET_MS}ms`,
      '--scale-down-window', `${WINDOW_MS}ms`, '--metrics-port', '0', '--namespace', namespace, ...transportArgs(transport),
    ]);
    dispatcher = started.child;
    await waitFor('1 worker and 1 spare consuming', async () => (await poolConsumers(namespace, transport)) === 2, 30_000);
    const connected = await connectClient(namespace, 5, transport);
    client = connected;

    const timeline: { second: number; regular: number; spares: number }[] = [];
    const t0 = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { regular, spares } = countMembers(await readStatus(namespace));
        timeline.push({ second: Math.floor((Date.now() - t0) / 1000), regular, spares });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();

    const waits: { second: number; queuedMs: number }[] = [];
    let redelivered = 0;
    const summary = await runLoad(
      {
        call: async (job, payload, timeoutMs) => {
          const sentAt = Date.now();
          const reply = await connected.call(job, payload, timeoutMs);
          waits.push({ second: Math.floor((sentAt - t0) / 1000), queuedMs: reply.timings.queuedMs ?? 0 });
          if (reply.redelivered) redelivered++;
          return reply;
        },
      },
      { count: RATE * LOAD_SECONDS, concurrency: 2000, ratePerSec: RATE, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 },
    );

    // After the load: back to min regular workers plus the spare, with nothing draining.
    await waitFor('the pool to shrink back to 1 worker + 1 spare', async () => {
      const counts = countMembers(await readStatus(namespace));
      return counts.regular === 1 && counts.spares === 1 && counts.draining === 0;
    }, 90_000);
    sampling = false;
    await sampler;

    const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? 0;
    const lines = [];
    for (let second = 0; second <= timeline[timeline.length - 1]!.second; second++) {
      const pool = timeline.filter((t) => t.second === second).pop();
      const inSecond = waits.filter((w) => w.second === second).map((w) => w.queuedMs);
      lines.push(`t=${String(second).padStart(3)}s  sent ${String(inSecond.length).padStart(3)}/s  p95 wait ${inSecond.length ? `${Math.round(p95(inSecond))} ms` : '-'}  workers ${pool?.regular ?? '?'} + spares ${pool?.spares ?? '?'}`);
    }
    console.log(`autoscaling timeline on ${transport} (target p95 wait ${TARGET_MS} ms):\n${lines.join('\n')}`);
    const events = await readEvents(namespace);
    const decisions = events.filter((e) => e.type === 'decision' || e.type === 'promoted');
    console.log(`decisions on ${transport}:\n${decisions.map((e) => `t=${((e.at - t0) / 1000).toFixed(2)}s  ${e.type === 'decision' ? `${e.from} -> ${e.to}: ${e.reason}` : `promoted ${e.workerId}${e.saturated ? ' (saturated)' : ''}`}`).join('\n')}`);

    expect(summary).toMatchObject({ sent: RATE * LOAD_SECONDS, ok: RATE * LOAD_SECONDS, errors: 0, timedOut: 0 });
    expect(Math.max(...timeline.map((t) => t.regular))).toBeGreaterThan(1);
    // Back under target: in at least 4 of the last 5 seconds of load (a 2-core machine shared
    // with the broker and every container has the odd hiccup second; the policy is not judged on it).
    const lastSeconds = [1, 2, 3, 4, 5].map((back) => p95(waits.filter((w) => w.second === LOAD_SECONDS - back).map((w) => w.queuedMs)));
    expect(lastSeconds.filter((ms) => ms < TARGET_MS).length).toBeGreaterThanOrEqual(4);
    // How fast the step is met depends on how fast containers boot on this shared machine (0.8 s
    // idle, 2 s and more under load), so the seconds it took are printed for the record, and the
    // test holds the dispatcher to its own part: when the step leaves the pool short (a second over
    // target), it asks for enough workers within 1.5 s of the step; and from 5 s on what was sent
    // waited less than the target at p95. (A spare at full concurrency beside the one worker can
    // carry the step's 7.5 busy slots: then no second is over, the pool grew only by promoting
    // the spare, and it had nothing more to ask for.)
    // Met at the first second from which every second of load stays under target (the first second
    // alone can be under target while the backlog is still building).
    const perSecond = [...Array(LOAD_SECONDS).keys()].map((second) => p95(waits.filter((w) => w.second === second).map((w) => w.queuedMs)));
    const metAt = perSecond.findIndex((_, second) => perSecond.slice(second).every((ms) => ms < TARGET_MS));
    console.log(`step met on ${transport}: every second from t=${metAt < 0 ? 'never' : metAt} s on has its p95 wait under ${TARGET_MS} ms`);
    const poolWasShort = perSecond.some((ms) => ms >= TARGET_MS);
    const enough = decisions.find((e) => e.type === 'decision' && e.to >= Math.ceil((RATE * 0.05) / 4) + 1);
    if (poolWasShort) expect(enough && enough.at - t0).toBeLessThan(1500);
    expect(p95(waits.filter((w) => w.second >= 5).map((w) => w.queuedMs))).toBeLessThan(TARGET_MS);
    // No scale-down inside the window after any increase (a decision or a promotion).
    expect(scaleDownsInsideWindow(events, WINDOW_MS)).toEqual([]);
    // Every drained worker exited by itself, none was killed at the drain grace.
    const drains = events.flatMap((e) => (e.type === 'removed' && e.drain ? [e.drain] : []));
    console.log(`drains on ${transport}: ${drains.map((d) => `${d.reason} ${d.exitCode} in ${d.ms} ms`).join(', ')}`);
    expect(drains.length).toBeGreaterThan(0);
    expect(drains.filter((d) => d.reason === 'killed')).toEqual([]);
    // Each request was run once: no caller saw a second reply. A scale-down or a spare's promotion
    // cancels a consumer, and RabbitMQ's quorum queue may hand a message already on its way to it
    // back to the queue (rabbitmq-server#3729): it is delivered once more, flagged redelivered, and
    // run once. That is at most the prefetch (4) per cancel: every regular worker beyond the first is
    // drained once, and any of them may have been a promoted spare.
    expect(client.stats.duplicatesSuppressed).toBe(0);
    const consumerCancels = 2 * Math.max(...timeline.map((t) => t.regular));
    expect(redelivered).toBeLessThanOrEqual(4 * consumerCancels);

    await runCli('producer/quit.js', ['--namespace', namespace, ...transportArgs(transport)]);
    expect(await exitOf(dispatcher)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});
