import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import { controlRoutingKey, encodeControl, HEADER_VERSION, PROTOCOL_VERSION, type ControlMessage, type Topology } from '../protocol.js';
import { publishMandatory } from './publish.js';

/**
 * Publishes a control message (quit, drain, promote) with a confirm. Resolves
 * with `routed: false` when no dispatcher or worker was listening for it.
 */
export function publishControl(channel: ConfirmChannel, topology: Topology, message: ControlMessage): Promise<{ routed: boolean }> {
  return publishMandatory(channel, topology.controlExchange, controlRoutingKey(message), encodeControl(message), {
    messageId: randomUUID(),
    contentType: 'application/json',
    headers: { [HEADER_VERSION]: PROTOCOL_VERSION },
  });
}
