import Docker from 'dockerode';
import { ShoalError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { DockerRuntime } from '../infra/runtime/docker.js';
import { ProcessRuntime } from '../infra/runtime/process.js';
import type { WorkerRuntime } from '../infra/runtime/types.js';
import type { DispatcherConfig } from './config.js';

/**
 * `--runtime auto|docker|process`. auto takes Docker when an engine answers,
 * local processes otherwise, and says which it chose and why.
 */
export async function chooseRuntime(config: DispatcherConfig, logger: Logger): Promise<WorkerRuntime> {
  if (config.runtime === 'process') {
    logger.info({ runtime: 'process' }, 'running workers as local processes');
    return new ProcessRuntime();
  }
  const docker = new Docker();
  const reachable = await docker.ping().then(() => undefined, (err: Error) => err);
  if (reachable instanceof Error) {
    if (config.runtime === 'docker') {
      throw new ShoalError(
        'DOCKER_UNREACHABLE',
        `--runtime docker was asked for, but the Docker engine does not answer (${where()}): ${reachable.message}. ` +
          'Start it (npm run setup starts dockerd here) or use --runtime process.',
      );
    }
    logger.info({ runtime: 'process', reason: reachable.message }, `no Docker engine answers at ${where()}; running workers as local processes`);
    return new ProcessRuntime();
  }
  const runtime = new DockerRuntime({
    docker,
    namespace: config.namespace,
    image: config.image,
    memoryBytes: config.workerMemoryBytes,
    cpus: config.workerCpus,
    stopGraceMs: config.drainGraceMs,
    logger,
  });
  await runtime.requireImage();
  await runtime.watch();
  logger.info({ runtime: 'docker', image: config.image }, 'running workers as Docker containers');
  return runtime;
}

function where(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}
