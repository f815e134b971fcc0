import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../infra/amqp/connection.js';
import { AMQP_URL } from '../helpers/broker.js';

describe('write coalescing on a broker connection', () => {
  it('finds the socket in this amqplib, and frames written in one tick still reach the broker in order', async () => {
    const model = await amqp.connect(AMQP_URL, { noDelay: true });
    try {
      // If an amqplib upgrade moves the socket, this fails instead of silently losing the speed-up.
      expect(coalesceWrites(model)).toBe(true);
      const channel = await model.createConfirmChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      for (let i = 0; i < 500; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
      await channel.waitForConfirms();
      const received: number[] = [];
      for (let msg = await channel.get(queue, { noAck: true }); msg; msg = await channel.get(queue, { noAck: true })) {
        received.push(Number(msg.content.toString()));
      }
      expect(received).toEqual(Array.from({ length: 500 }, (_, i) => i));
    } finally {
      await model.close();
    }
  });
});
