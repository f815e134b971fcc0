/**
 * Benchmark: how fast does new capacity pick up work?
 *  - a warm spare: an overflow request's wait from publish to delivery, while
 *    the only regular worker is busy (the spare is a container already consuming
 *    at a low priority, so no dispatcher round trip and no start);
 *  - a cold container: from the runtime's start() to its first consume;
 *  - a cold local process: the same, as the reference.
 * All measured in the same run, alternating. Not a test: prints figures, asserts nothing.
 * Run: npm run bench
 */
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import Docker from 'dockerode';
import { AMQP_URL, knob, silentLogger as logger, writeResults } from './lib/setup.js';
import { median, round } from './lib/stats.js';
import { assertTopology, deleteTopology, topologyFor } from '../../infra/amqp/topology.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import type { WorkerRuntime } from '../../infra/runtime/types.js';
import { WORKER_IMAGE } from '../helpers/docker.js';
import { RabbitRpcClient } from '../../infra/transport/rabbitmq/rpc-client.js';

const RUNS = knob('BENCH_RUNS', 7);
const namespace = `bench-${process.pid}`;
const topology = topologyFor(namespace);

const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createChannel();
await assertTopology(channel, topology, { deliveryLimit: 5 });

const env = { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_LOG_LEVEL: 'warn', SHOAL_CONCURRENCY: '1' };
const docker = new DockerRuntime({ docker: new Docker(), namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger });
const local = new ProcessRuntime({ stdio: 'ignore' });
const consumers = async () => (await channel.checkQueue(topology.requestQueue)).consumerCount;

async function coldStart(runtime: WorkerRuntime, workerId: string): Promise<number> {
  const before = await consumers();
  const t0 = performance.now();
  await runtime.start({ workerId, role: 'worker', env });
  while ((await consumers()) === before) await sleep(5);
  const ms = performance.now() - t0;
  await runtime.drain(workerId, 10_000);
  await runtime.remove(workerId);
  return ms;
}

/** One regular worker busy with a long job; how long does the next request wait? */
async function sparePickup(client: RabbitRpcClient): Promise<number> {
  const busy = client.call('sleep', { ms: 1500 }, 10_000);
  await sleep(100); // the regular worker (concurrency 1) now holds the long job
  const reply = await client.call('echo', null, 10_000);
  await busy;
  if (reply.workerId !== `${namespace}-spare`) throw new Error(`overflow went to ${reply.workerId}, not the spare`);
  return reply.timings.queuedMs ?? NaN;
}

const round1 = (n: number) => round(n, 1);
const samples = { spare: [] as number[], docker: [] as number[], process: [] as number[] };
const client = await RabbitRpcClient.connect({ amqpUrl: AMQP_URL, topology, deliveryLimit: 5, maxBodyBytes: 1 << 20, name: 'shoal bench', logger });
try {
  await docker.start({ workerId: `${namespace}-regular`, role: 'worker', env });
  await docker.start({ workerId: `${namespace}-spare`, role: 'spare', env });
  while ((await consumers()) < 2) await sleep(10);
  for (let i = 0; i < RUNS; i++) {
    samples.spare.push(await sparePickup(client));
    samples.docker.push(await coldStart(docker, `${namespace}-d${i}`));
    samples.process.push(await coldStart(local, `${namespace}-p${i}`));
  }
} finally {
  await client.close();
  for (const w of await docker.list()) await docker.remove(w.workerId);
  await deleteTopology(channel, topology).catch(() => undefined);
  await connection.close();
  await docker.close();
}

const image = await new Docker().getImage(WORKER_IMAGE).inspect();
const m = { spare: median(samples.spare), docker: median(samples.docker), process: median(samples.process) };
const result = {
  benchmark: 'capacity pick-up',
  runs: RUNS,
  medianMs: { warmSparePickup: round1(m.spare), coldContainerStart: Math.round(m.docker), coldProcessStart: Math.round(m.process) },
  ratios: { coldContainerToWarmSpare: Math.round(m.docker / m.spare), coldContainerToProcess: round1(m.docker / m.process) },
  samplesMs: { warmSparePickup: samples.spare.map(round), coldContainerStart: samples.docker.map(Math.round), coldProcessStart: samples.process.map(Math.round) },
  imageBytes: image.Size,
};
console.log(`capacity pick-up, median of ${RUNS} (alternating in one run):`);
console.log(`  warm spare takes an overflow request   ${result.medianMs.warmSparePickup} ms   (publish -> delivery)   samples ${result.samplesMs.warmSparePickup.join(' ')}`);
console.log(`  cold container, start() -> consuming  ${result.medianMs.coldContainerStart} ms   samples ${result.samplesMs.coldContainerStart.join(' ')}`);
console.log(`  cold local process (reference)        ${result.medianMs.coldProcessStart} ms   samples ${result.samplesMs.coldProcessStart.join(' ')}`);
console.log(`  cold container / warm spare ${result.ratios.coldContainerToWarmSpare}x; cold container / process ${result.ratios.coldContainerToProcess}x; image ${(image.Size / 1e6).toFixed(1)} MB`);
console.log('  (a cold start also waits for the dispatcher to notice and decide: up to one scaling interval, 1 s by default)');
writeResults('capacity', result);

