import net from 'node:net';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../infra/amqp/connection.js';
import { connect } from '../../producer/index.js';
import { runWorker } from '../../worker/index.js';
import { AMQP_URL, newNamespace, removeNamespace } from '../helpers/broker.js';

describe('TCP on a broker connection', () => {
  it('has noDelay on for the client and the worker (without it a sequential round trip takes about 7 ms on loopback)', async () => {
    const calls: { port: number | undefined; noDelay: boolean | undefined }[] = [];
    const original = net.Socket.prototype.setNoDelay;
    // A spy on the real socket: it records each call and still makes it.
    net.Socket.prototype.setNoDelay = function (this: net.Socket, noDelay?: boolean) {
      calls.push({ port: this.remotePort, noDelay });
      return original.call(this, noDelay);
    };
    const namespace = newNamespace();
    try {
      const worker = await runWorker({ url: AMQP_URL, namespace, handlers: {} });
      const client = await connect({ url: AMQP_URL, namespace });
      expect(await client.call('echo', 'hi', { timeout: '5s' })).toBe('hi');
      await client.close();
      await worker.close();
    } finally {
      net.Socket.prototype.setNoDelay = original;
      await removeNamespace(namespace);
    }
    const toBroker = calls.filter((c) => c.port === Number(new URL(AMQP_URL).port || 5672));
    expect(toBroker.length).toBeGreaterThanOrEqual(2); // the worker's connection and the client's
    expect(toBroker.every((c) => c.noDelay === true)).toBe(true);
  });
});

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
