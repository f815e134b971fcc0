import Docker from 'dockerode';
import { ShoalError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { DockerRuntime, type ContainerRuntimeOptions } from '../infra/runtime/docker.js';
import { engineCall } from '../infra/runtime/engine-timeout.js';
import { ProcessRuntime } from '../infra/runtime/process.js';
import { SwarmRuntime } from '../infra/runtime/swarm.js';
import type { WorkerRuntime } from '../infra/runtime/types.js';
import type { DispatcherConfig } from './config.js';

export interface RuntimeNeeds {
  /** Sends the `drain` control message to one worker (the Swarm runtime drains a chosen task this way). */
  requestDrain: (workerId: string) => Promise<boolean>;
}

/**
 * `--runtime auto|docker|swarm|process`. auto takes Docker when an engine
 * answers, local processes otherwise, and says which it chose and why; swarm
 * is only taken when asked for.
 */
export async function chooseRuntime(config: DispatcherConfig, logger: Logger, needs: RuntimeNeeds): Promise<WorkerRuntime> {
  if (config.runtime === 'process') {
    logger.info({ runtime: 'process' }, 'running workers as local processes');
    return new ProcessRuntime();
  }
  const docker = new Docker();
  // A socket that accepts and never answers must not hold the start up (dockerode's typings offer ping() no abort signal).
  const reachable = await engineCall('ping', config.dockerTimeoutMs, () => docker.ping()).then(() => undefined, (err: Error) => err);
  if (reachable instanceof Error) {
    if (config.runtime === 'docker' || config.runtime === 'swarm') {
      throw new ShoalError(
        'DOCKER_UNREACHABLE',
        `--runtime ${config.runtime} was asked for, but the Docker engine does not answer (${where()}): ${reachable.message}. ` +
          'Start it (npm run setup starts dockerd here) or use --runtime process.',
      );
    }
    logger.info({ runtime: 'process', reason: reachable.message }, `no Docker engine answers at ${where()}; running workers as local processes`);
    return new ProcessRuntime();
  }
  if (config.runtime === 'swarm') return swarmRuntime(docker, config, logger, needs);
  const runtime = new DockerRuntime(containerOptions(docker, config, logger));
  await runtime.requireImage();
  await runtime.watch();
  logger.info({ runtime: 'docker', image: config.image }, 'running workers as Docker containers');
  return runtime;
}

async function swarmRuntime(docker: Docker, config: DispatcherConfig, logger: Logger, needs: RuntimeNeeds): Promise<WorkerRuntime> {
  await SwarmRuntime.requireManager(docker, config.dockerTimeoutMs);
  const runtime = new SwarmRuntime({
    ...containerOptions(docker, config, logger),
    requestDrain: needs.requestDrain,
    amqpUrlSecret: config.amqpUrlSecret === '-' ? undefined : config.amqpUrlSecret,
    redisUrlSecret: config.redisUrlSecret === '-' ? undefined : config.redisUrlSecret,
  });
  await runtime.requireImage();
  await runtime.watch();
  logger.info({ runtime: 'swarm', image: config.image }, 'running workers as the tasks of Docker Swarm services');
  return runtime;
}

/** What the Docker and the Swarm runtime share: the pool, the image, each worker's limits and drain grace. */
function containerOptions(docker: Docker, config: DispatcherConfig, logger: Logger): ContainerRuntimeOptions {
  return {
    docker,
    namespace: config.namespace,
    image: config.image,
    memoryBytes: config.workerMemoryBytes,
    cpus: config.workerCpus,
    stopGraceMs: config.drainGraceMs,
    logger,
    engineTimeoutMs: config.dockerTimeoutMs,
  };
}

function where(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}
