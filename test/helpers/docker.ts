import Docker from 'dockerode';
import { LABEL_POOL } from '../../infra/runtime/docker.js';

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
