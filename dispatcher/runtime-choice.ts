import { ShoalError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { engineAddress, openEngineRuntime, type EngineRuntimeOptions } from '../infra/runtime/engine.js';
import { ProcessRuntime } from '../infra/runtime/process.js';
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
  const kind = config.runtime === 'swarm' ? 'swarm' : 'docker';
  const opened = await openEngineRuntime(kind, containerOptions(config, logger), {
    requestDrain: needs.requestDrain,
    amqpUrlSecret: config.amqpUrlSecret === '-' ? undefined : config.amqpUrlSecret,
    redisUrlSecret: config.redisUrlSecret === '-' ? undefined : config.redisUrlSecret,
  });
  if ('unreachable' in opened) {
    const reason = opened.unreachable.message;
    if (config.runtime === 'docker' || config.runtime === 'swarm') {
      throw new ShoalError(
        'DOCKER_UNREACHABLE',
        `--runtime ${config.runtime} was asked for, but the Docker engine does not answer (${engineAddress()}): ${reason}. ` +
          'Start it (npm run setup starts dockerd here) or use --runtime process.',
      );
    }
    logger.info({ runtime: 'process', reason }, `no Docker engine answers at ${engineAddress()}; running workers as local processes`);
    return new ProcessRuntime();
  }
  if (kind === 'swarm') logger.info({ runtime: 'swarm', image: config.image }, 'running workers as the tasks of Docker Swarm services');
  else logger.info({ runtime: 'docker', image: config.image }, 'running workers as Docker containers');
  return opened.runtime;
}

/** What the Docker and the Swarm runtime share: the pool, the image, each worker's limits and drain grace. */
function containerOptions(config: DispatcherConfig, logger: Logger): EngineRuntimeOptions {
  return {
    namespace: config.namespace,
    image: config.image,
    memoryBytes: config.workerMemoryBytes,
    cpus: config.workerCpus,
    stopGraceMs: config.drainGraceMs,
    logger,
    engineTimeoutMs: config.dockerTimeoutMs,
  };
}
