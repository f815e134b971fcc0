import type { ConfirmChannel, Message, Options } from 'amqplib';

/**
 * Publishes with `mandatory` on a confirm channel and resolves once the broker
 * has confirmed it, saying whether any queue took it: the broker sends
 * basic.return before the confirm of an unroutable message. Returns are
 * matched by messageId when there is one, since other publishes may be in
 * flight on the channel. Rejects when the broker nacks it.
 */
export async function publishMandatory(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
): Promise<{ routed: boolean }> {
  let routed = true;
  const onReturn = (msg: Message) => {
    if (options.messageId === undefined || msg.properties.messageId === options.messageId) routed = false;
  };
  channel.on('return', onReturn);
  try {
    await new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, content, { ...options, mandatory: true }, (err: unknown) =>
        err ? reject(new Error('the broker did not confirm the message')) : resolve(),
      );
    });
  } finally {
    channel.off('return', onReturn);
  }
  return { routed };
}
