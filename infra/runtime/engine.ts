import Docker from 'dockerode';
import { DockerRuntime, removePoolContainers, type ContainerRuntimeOptions, type Removal } from './docker.js';
import { engineCall } from './engine-timeout.js';
import { removePoolServices, SwarmRuntime, type SwarmRuntimeOptions } from './swarm.js';
import type { WorkerRuntime } from './types.js';

/**
 * The local Docker engine (DOCKER_HOST, or its default socket): the one place
 * that makes a dockerode client for the commands. The dispatcher opens its
 * container runtime here, and shoal-cleanup removes a pool here.
 */

/** What both container runtimes are given, less the engine client that is made here. */
export type EngineRuntimeOptions = Omit<ContainerRuntimeOptions, 'docker'> & { engineTimeoutMs: number };

/** What only the Swarm runtime needs on top. */
export type SwarmOnlyOptions = Pick<SwarmRuntimeOptions, 'requestDrain' | 'amqpUrlSecret' | 'redisUrlSecret'>;

/** Where the engine is looked for, for messages. */
export function engineAddress(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/**
 * Workers as Docker containers, or as the tasks of Swarm services, once the
 * image is there and exits are watched. When the engine does not answer, says
 * why instead of throwing, so that `--runtime auto` can fall back to processes.
 */
export async function openEngineRuntime(
  kind: 'docker' | 'swarm',
  options: EngineRuntimeOptions,
  swarm: SwarmOnlyOptions,
): Promise<{ runtime: WorkerRuntime } | { unreachable: Error }> {
  const docker = new Docker();
  // A socket that accepts and never answers must not hold the start up (dockerode's typings offer ping() no abort signal).
  const reachable = await engineCall('ping', options.engineTimeoutMs, () => docker.ping()).then(() => undefined, (err: Error) => err);
  if (reachable instanceof Error) return { unreachable: reachable };
  let runtime: DockerRuntime | SwarmRuntime;
  if (kind === 'swarm') {
    await SwarmRuntime.requireManager(docker, options.engineTimeoutMs);
    runtime = new SwarmRuntime({ ...options, docker, ...swarm });
  } else {
    runtime = new DockerRuntime({ ...options, docker });
  }
  await runtime.requireImage();
  await runtime.watch();
  return { runtime };
}

/** shoal-cleanup: one pool's Swarm services, then its containers, and nothing else. */
export async function removePool(namespace: string, timeoutMs: number): Promise<{ services: Removal; containers: Removal }> {
  const docker = new Docker();
  // Services first: a service whose containers were removed alone would start them again.
  const services = await removePoolServices(docker, namespace, timeoutMs);
  const containers = await removePoolContainers(docker, namespace, timeoutMs);
  return { services, containers };
}
