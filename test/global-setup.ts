import { existsSync } from 'node:fs';
import net from 'node:net';
import Docker from 'dockerode';
import { CHROMIUM } from './helpers/browser.js';
import { WORKER_IMAGE } from './helpers/docker.js';

/**
 * Integration and end-to-end tests need a real RabbitMQ, its management API,
 * Redis, a Docker engine (a swarm manager) with the worker image, Chromium, and a build. `npm test` runs infra/setup.sh first; if something is still missing,
 * fail loudly here with what to do, instead of skipping tests.
 */
export default async function globalSetup(): Promise<void> {
  const problems: string[] = [];
  if (!existsSync('dist/worker/main.js')) problems.push('dist/ is not built: run `npm run build`');
  if (!existsSync(CHROMIUM)) problems.push(`Chromium is missing at ${CHROMIUM} (the browser tests need it): \`apt-get install -y chromium\``);
  for (const [what, port] of [['RabbitMQ (AMQP)', 5672], ['RabbitMQ management API', 15672], ['Redis', 6379]] as const) {
    if (!(await canConnect(port))) problems.push(`${what} does not answer on 127.0.0.1:${port}`);
  }
  const docker = new Docker();
  if (await docker.ping().then(() => true, () => false)) {
    const image = await docker.getImage(WORKER_IMAGE).inspect().then(() => true, () => false);
    if (!image) problems.push(`the worker image ${WORKER_IMAGE} is missing: run \`npm run image\``);
    const info = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
    if (!info.Swarm?.ControlAvailable) problems.push('the Docker engine is not a swarm manager (the Swarm tests need one): run `docker swarm init --advertise-addr 127.0.0.1`');
  } else {
    problems.push('the Docker engine does not answer (the e2e tests need it)');
  }
  if (problems.length > 0) {
    throw new Error(`cannot run the tests:\n  - ${problems.join('\n  - ')}\nRun \`npm run setup\` (npm test runs it for you).`);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
