import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { runLoad, type LoadPlan } from '../../producer/load.js';
import type { DeliveryStats, RpcCaller, TransportKind } from '../../infra/transport/types.js';
import { waitFor } from './broker.js';
import { expect } from 'vitest';
import { docker, poolContainers } from './docker.js';
import { exitOf, runCli, startDispatcher } from './processes.js';
import { poolConsumers, transportArgs } from './transport.js';

/** What a chaos run came to. `lost` must be 0: every call got a reply. */
export interface Accounting {
  sent: number;
  confirmed: number;
  answered: number;
  ok: number;
  lost: number;
  republished: number;
  duplicatesSuppressed: number;
  redelivered: number;
  faults: number;
}

/**
 * Runs an open-loop load through `client` and fires `fault` at the given
 * request indexes. Counts what came back.
 */
export async function loadWithFaults(
  client: RpcCaller,
  plan: Omit<LoadPlan, 'concurrency'>,
  faultAt: readonly number[],
  fault: (n: number) => Promise<void>,
): Promise<Accounting> {
  let redelivered = 0;
  let faults = 0;
  const faultsDone: Promise<void>[] = [];
  const summary = await runLoad(
    {
      call: async (job, payload, timeoutMs) => {
        const reply = await client.call(job, payload, timeoutMs);
        if (reply.redelivered) redelivered++;
        return reply;
      },
    },
    { ...plan, concurrency: 5000 },
    (outcome) => {
      const n = faultAt.indexOf(outcome.index);
      if (n >= 0) {
        faults++;
        faultsDone.push(fault(n));
      }
    },
  );
  await Promise.all(faultsDone);
  const stats: DeliveryStats = client.stats;
  return {
    sent: summary.sent,
    confirmed: stats.confirmed,
    answered: summary.ok + summary.errors,
    ok: summary.ok,
    lost: summary.timedOut + (summary.errorsByCode.PUBLISH_NACKED ?? 0) + (summary.errorsByCode.UNROUTABLE ?? 0),
    republished: stats.republished,
    duplicatesSuppressed: stats.duplicatesSuppressed,
    redelivered,
    faults,
  };
}

/** A dispatcher running a static pool of worker containers. */
export async function startContainerPool(namespace: string, workers: number, extraArgs: string[] = [], env: Record<string, string> = {}, transport: TransportKind = 'rabbitmq') {
  const started = startDispatcher(
    ['--runtime', 'docker', '--min', String(workers), '--max', String(workers), '--spares', '0', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace, ...transportArgs(transport), ...extraArgs],
    env,
  );
  await waitFor(`${workers} consuming containers`, async () => (await poolConsumers(namespace, transport)) >= workers, 30_000);
  return started;
}

/** The fault of the container chaos tests: SIGKILL one running container of the pool, chosen at random. */
export async function killRandomPoolContainer(namespace: string): Promise<void> {
  const running = (await poolContainers(namespace)).filter((c) => c.State === 'running');
  const victim = running[Math.floor(Math.random() * running.length)];
  if (victim) await docker.getContainer(victim.Id).kill();
}

export function rabbitmqctl(...args: string[]): void {
  execFileSync('rabbitmqctl', ['-q', ...args], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/lib/rabbitmq/bin` } });
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export function printAccounting(name: string, a: Accounting): void {
  console.log(
    `chaos ${name}: sent ${a.sent}, confirmed ${a.confirmed}, answered ${a.answered} (ok ${a.ok}), lost ${a.lost}, ` +
      `republished ${a.republished}, duplicate replies suppressed ${a.duplicatesSuppressed}, redelivered ${a.redelivered}, faults ${a.faults}`,
  );
}

/**
 * 3000 requests at 300/s while 3 of the pool's worker containers are SIGKILLed: every request is
 * answered, and some were redelivered (the victims held work). Returns the accounting.
 */
export async function loadWhileKillingWorkers(client: RpcCaller, namespace: string, name: string): Promise<Accounting> {
  const account = await loadWithFaults(
    client,
    { count: 3000, ratePerSec: 300, job: 'sleep', payload: { ms: 20 }, timeoutMs: 60_000 },
    [600, 1400, 2200],
    () => killRandomPoolContainer(namespace),
  );
  printAccounting(name, account);
  expect(account).toMatchObject({ sent: 3000, answered: 3000, ok: 3000, lost: 0, faults: 3 });
  expect(account.redelivered).toBeGreaterThan(0);
  return account;
}

/** Sends quit to the pool: the dispatcher must exit 0 and leave no container of the pool behind. */
export async function quitAndCheckNothingLeft(namespace: string, dispatcher: ChildProcess, transport: TransportKind = 'rabbitmq'): Promise<void> {
  await runCli('producer/quit.js', ['--namespace', namespace, ...transportArgs(transport)]);
  expect(await exitOf(dispatcher)).toBe(0);
  expect(await poolContainers(namespace)).toEqual([]);
}
