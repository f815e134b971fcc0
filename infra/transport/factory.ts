import type { ControlMessage } from '../protocol.js';
import type { CallerTarget, ConsumerTarget, LinkTarget, TransportAdapter, TransportTarget } from './target.js';
import type { DispatcherLink, RequestConsumer, RpcCaller, TransportKind } from './types.js';

export type { BullmqWorkerSettings, CallerTarget, ConsumerTarget, LinkTarget, TransportTarget } from './target.js';

/**
 * The one place that picks a transport: each adapter folder exports the same
 * constructors (TransportAdapter), and these build the chosen one's. Only the
 * chosen adapter is loaded: bullmq costs a RabbitMQ worker about 80 ms of its
 * start (a container's start is what a step in load waits for).
 */
const ADAPTERS: Record<TransportKind, () => Promise<TransportAdapter>> = {
  rabbitmq: async () => (await import('./rabbitmq/index.js')).rabbitmqTransport,
  bullmq: async () => (await import('./bullmq/index.js')).bullmqTransport,
};

function adapterFor(target: TransportTarget): Promise<TransportAdapter> {
  return ADAPTERS[target.transport ?? 'rabbitmq']();
}

/** The producer's client. */
export async function connectCaller(target: CallerTarget): Promise<RpcCaller> {
  return (await adapterFor(target)).connectCaller(target);
}

/** Sends one control message (the end-client); resolves with whether anyone was listening. */
export async function sendControl(target: TransportTarget, message: ControlMessage): Promise<{ routed: boolean }> {
  return (await adapterFor(target)).sendControl(target, message);
}

/** The worker's consumer, not started yet: the worker it is handed to starts it. */
export async function createConsumer(target: ConsumerTarget): Promise<RequestConsumer> {
  return (await adapterFor(target)).createConsumer(target);
}

/** The dispatcher's link: connected, listening for `quit`. */
export async function connectDispatcherLink(target: LinkTarget): Promise<DispatcherLink> {
  return (await adapterFor(target)).connectDispatcherLink(target);
}
