import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, Message } from 'amqplib';
import { controlRoutingKey, encodeControl, HEADER_VERSION, PROTOCOL_VERSION, type ControlMessage, type Topology } from '../protocol.js';

/**
 * Publishes a control message (quit, drain) with a confirm. Resolves with
 * `routed: false` when no dispatcher or worker was listening for it.
 */
export async function publishControl(channel: ConfirmChannel, topology: Topology, message: ControlMessage): Promise<{ routed: boolean }> {
  let routed = true;
  // Matched by messageId: other control messages may be in flight on the same channel.
  const messageId = randomUUID();
  const onReturn = (msg: Message) => {
    if (msg.properties.messageId === messageId) routed = false;
  };
  channel.on('return', onReturn);
  try {
    // The broker sends basic.return before the confirm of an unroutable message.
    await new Promise<void>((resolve, reject) => {
      channel.publish(
        topology.controlExchange,
        controlRoutingKey(message),
        encodeControl(message),
        { mandatory: true, messageId, contentType: 'application/json', headers: { [HEADER_VERSION]: PROTOCOL_VERSION } },
        (err: unknown) => (err ? reject(new Error('the broker did not confirm the control message')) : resolve()),
      );
    });
  } finally {
    channel.off('return', onReturn);
  }
  return { routed };
}
