import { ShoalError } from '../../errors.js';
import type { SourceGuard } from '../../source-guard.js';
import type { QueueDepth } from '../types.js';

export interface RabbitDepthOptions {
  queue: string;
  /** e.g. http://guest:guest@127.0.0.1:15672; undefined to use the passive declare alone. */
  managementUrl: string | undefined;
  /** A passive declare: fresh, but it only knows ready messages and consumers. */
  passive: () => Promise<{ ready: number; consumers: number }>;
  /** Warns once about a source that fails while the other answers. */
  guard: SourceGuard;
}

/**
 * The RabbitMQ queue's depth. The ready count and consumers come from a
 * passive declare (the management API's figures lag by up to its 5 s
 * statistics interval); unacked and the publish rate from the management API
 * when it answers. Either may fail alone; the other is used.
 */
export async function rabbitQueueDepth(options: RabbitDepthOptions): Promise<QueueDepth> {
  const [passive, management] = await Promise.all([
    options.guard.run('passive declare', options.passive),
    options.managementUrl ? options.guard.run('management API', () => readManagement(options.managementUrl!, options.queue)) : Promise.resolve(undefined),
  ]);
  // Neither answered (the broker is down): zeros would read as an empty queue.
  if (!passive && !management) throw new ShoalError('QUEUE_DEPTH_UNREADABLE', `neither a passive declare nor the management API gave the depth of ${options.queue}`);
  return {
    ready: passive?.ready ?? management?.ready ?? 0,
    unacked: management?.unacked,
    consumers: passive?.consumers ?? management?.consumers ?? 0,
    publishRate: management?.publishRate,
    source: management ? 'management' : 'passive',
  };
}

async function readManagement(managementUrl: string, queue: string): Promise<{ ready: number; unacked: number; consumers: number; publishRate: number | undefined }> {
  const base = new URL(managementUrl);
  const auth = Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64');
  const url = `${base.origin}/api/queues/%2F/${encodeURIComponent(queue)}`;
  const response = await fetch(url, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(1000) });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
  const body = (await response.json()) as {
    messages_ready?: number;
    messages_unacknowledged?: number;
    consumers?: number;
    message_stats?: { publish_details?: { rate?: number } };
  };
  return {
    ready: body.messages_ready ?? 0,
    unacked: body.messages_unacknowledged ?? 0,
    consumers: body.consumers ?? 0,
    publishRate: body.message_stats?.publish_details?.rate,
  };
}
