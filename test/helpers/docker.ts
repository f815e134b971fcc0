import Docker from 'dockerode';
import { publishControl } from '../../infra/amqp/control.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { LABEL_POOL } from '../../infra/runtime/docker.js';
import { rawChannel } from './broker.js';

export const docker = new Docker();
/** The image under test; SHOAL_WORKER_IMAGE (which the dispatcher reads too) lets parallel checkouts keep their own. */
export const WORKER_IMAGE = process.env.SHOAL_WORKER_IMAGE ?? 'shoal/worker:latest';

/** Containers of one pool, as `docker ps -a --filter label=org.shoal.pool=<ns>` shows them. */
export function poolContainers(namespace: string) {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL_POOL}=${namespace}`] } });
}

/** A long-running container that is not shoal's (or is another pool's): the dispatcher must never touch it. */
export async function startBystander(name: string, labels: Record<string, string> = {}) {
  const container = await docker.createContainer({
    name,
    Image: WORKER_IMAGE,
    Entrypoint: ['node', '-e', 'setInterval(() => {}, 1e9)'],
    Labels: labels,
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  return container;
}

/** Swarm services of one pool, as `docker service ls --filter label=org.shoal.pool=<ns>` shows them. */
export function poolServices(namespace: string) {
  return docker.listServices({ filters: { label: [`${LABEL_POOL}=${namespace}`] } });
}

/** A sender of `drain` control messages to the workers of one pool, as the dispatcher's broker connection sends them. */
export async function drainSender(namespace: string) {
  const { connection, channel } = await rawChannel();
  return {
    requestDrain: async (workerId: string) => (await publishControl(channel, topologyFor(namespace), { type: 'drain', workerId })).routed,
    close: () => connection.close().catch(() => undefined),
  };
}
