/**
 * A delivery as every transport hands it to the worker (see Deliver), and what
 * decodeRequest checks: the subset of an amqplib message that decoding needs,
 * which RabbitMQ delivers as is and BullMQ builds from a job (bullmq/job-message.ts).
 */
export interface IncomingMessage {
  content: Buffer;
  fields: { redelivered: boolean };
  /**
   * The delivery count at which the carrier itself gives up on the message,
   * when it says so per message: a BullMQ job's own `attempts`, which the
   * adder chose. Absent on RabbitMQ, where the queue's limit is the worker's.
   */
  deliveryLimit?: number | undefined;
  properties: {
    messageId?: string | undefined;
    correlationId?: string | undefined;
    replyTo?: string | undefined;
    expiration?: string | number | undefined;
    headers?: Record<string, unknown> | undefined;
  };
}
