import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import type { Topology } from './topology.js';
import { encodeControl, HEADER_VERSION, PROTOCOL_VERSION, type ControlMessage } from '../protocol.js';
import { publishMandatory } from './publish.js';

// How control messages are routed on the pool's topic exchange (<ns>.control).
export const QUIT_ROUTING_KEY = 'quit';
/** Every worker binds it: a cancel goes to all of them, since any one may hold the request. */
export const CANCEL_ROUTING_KEY = 'cancel';
/** Each worker binds `*.<workerId>`: messages addressed to it alone. */
export function workerRoutingPattern(workerId: string): string {
  return `*.${workerId}`;
}

export function controlRoutingKey(message: ControlMessage): string {
  if (message.type === 'quit') return QUIT_ROUTING_KEY;
  if (message.type === 'cancel') return CANCEL_ROUTING_KEY;
  return `${message.type}.${message.workerId}`;
}


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
