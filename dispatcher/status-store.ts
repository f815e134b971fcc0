import type { RedisClient } from '../infra/redis.js';
import { eventsKey, type LoggedEvent } from '../infra/pool-events.js';
import { statusKey, type PoolStatus } from '../infra/pool-status.js';

const MAX_EVENTS = 5000;

/** Writes status and events to Redis; losing Redis loses only these, never scaling. */
export class StatusStore {
  constructor(private readonly redis: RedisClient, private readonly namespace: string) {}

  async writeStatus(status: PoolStatus): Promise<void> {
    await this.redis.set(statusKey(this.namespace), JSON.stringify(status), 'PX', 15_000).catch(() => undefined);
  }

  async appendEvent(event: LoggedEvent): Promise<void> {
    await this.redis
      .multi()
      .lpush(eventsKey(this.namespace), JSON.stringify(event))
      .ltrim(eventsKey(this.namespace), 0, MAX_EVENTS - 1)
      .exec()
      .catch(() => undefined);
  }
}
