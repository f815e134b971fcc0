import type { ContainerRuntimeOptions } from './docker.js';

/** The Swarm runtime's options; its parts (swarm-services.ts) read them too. */
export interface SwarmRuntimeOptions extends ContainerRuntimeOptions {
  /** Sends the `drain` control message to one worker; resolves whether a worker was bound to receive it. */
  requestDrain: (workerId: string) => Promise<boolean>;
  /** How often task states are read to notice exits (default 1 s). */
  pollIntervalMs?: number;
  /** How long a new task may take to run before its start counts as failed (default 60 s: a node may pull the image). */
  startTimeoutMs?: number;
  /** Name of a Swarm secret with the broker URL; workers then read it from a file instead of SHOAL_AMQP_URL. */
  amqpUrlSecret?: string;
  /** Name of a Swarm secret with the Redis URL; workers then read it from a file instead of SHOAL_REDIS_URL. */
  redisUrlSecret?: string;
}
