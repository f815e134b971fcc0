/**
 * Benchmark: how long a new worker takes from the runtime's start() call to
 * its first consume on the request queue, as a Docker container and as a
 * local process (the reference, measured in the same run, alternating).
 * Run: npm run bench   (not a test: it prints figures and asserts nothing)
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import Docker from 'dockerode';
import { pino } from 'pino';
import { deleteTopology } from '../../infra/amqp/topology.js';
import { topologyFor } from '../../infra/protocol.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import type { WorkerRuntime } from '../../infra/runtime/types.js';

const AMQP_URL = process.env.SHOAL_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const namespace = `bench-${process.pid}`;
const topology = topologyFor(namespace);

const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createChannel();
await channel.assertQueue(topology.requestQueue, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5, 'x-dead-letter-exchange': topology.deadExchange, 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } });

const env = { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_LOG_LEVEL: 'warn' };
const logger = pino({ level: 'silent' });
const docker = new DockerRuntime({ docker: new Docker(), namespace, image: 'shoal/worker:latest', memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger });
const local = new ProcessRuntime({ stdio: 'ignore' });

async function timeToFirstConsume(runtime: WorkerRuntime, workerId: string): Promise<number> {
  const t0 = performance.now();
  await runtime.start({ workerId, role: 'worker', env });
  while ((await channel.checkQueue(topology.requestQueue)).consumerCount === 0) await sleep(5);
  const ms = performance.now() - t0;
  await runtime.drain(workerId, 10_000);
  await runtime.remove(workerId);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples = { docker: [] as number[], process: [] as number[] };
try {
  for (let i = 0; i < RUNS; i++) {
    samples.docker.push(await timeToFirstConsume(docker, `${namespace}-d${i}`));
    samples.process.push(await timeToFirstConsume(local, `${namespace}-p${i}`));
  }
} finally {
  await deleteTopology(channel, topology).catch(() => undefined);
  await connection.close();
  await docker.close();
}

const image = await new Docker().getImage('shoal/worker:latest').inspect();
const result = {
  benchmark: 'cold-start',
  runs: RUNS,
  medianMs: { docker: Math.round(median(samples.docker)), process: Math.round(median(samples.process)) },
  ratioDockerToProcess: Math.round((median(samples.docker) / median(samples.process)) * 100) / 100,
  samplesMs: { docker: samples.docker.map(Math.round), process: samples.process.map(Math.round) },
  imageBytes: image.Size,
};
console.log(`cold start, start() -> first consume, median of ${RUNS} (alternating):`);
console.log(`  docker container  ${result.medianMs.docker} ms   samples ${result.samplesMs.docker.join(' ')}`);
console.log(`  local process     ${result.medianMs.process} ms   samples ${result.samplesMs.process.join(' ')}  (reference)`);
console.log(`  ratio docker/process ${result.ratioDockerToProcess}x; image shoal/worker:latest ${(image.Size / 1e6).toFixed(1)} MB`);
writeFileSync(new URL('./results/cold-start.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
