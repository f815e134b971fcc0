import type { ControlMessage } from '../protocol.js';
import { bullmqTransport } from './bullmq/index.js';
import { rabbitmqTransport } from './rabbitmq/index.js';
import type { CallerTarget, ConsumerTarget, LinkTarget, TransportAdapter, TransportTarget } from './target.js';
import type { DispatcherLink, RequestConsumer, RpcCaller, TransportKind } from './types.js';

export type { BullmqWorkerSettings, CallerTarget, ConsumerTarget, LinkTarget, TransportTarget } from './target.js';

/**
 * The one place that picks a transport: each adapter folder exports the same
 * constructors (TransportAdapter), and these build the chosen one's. The
 * worker process loads the callers and links too: nothing needs it not to
 * (the worker image holds all of dist/infra but runtime/, and they use no
 * package the consumers do not), and it costs tens of milliseconds at start.
 */
const ADAPTERS: Record<TransportKind, TransportAdapter> = { rabbitmq: rabbitmqTransport, bullmq: bullmqTransport };

function adapterFor(target: TransportTarget): TransportAdapter {
  return ADAPTERS[target.transport ?? 'rabbitmq'];
}

/** The producer's client. */
export function connectCaller(target: CallerTarget): Promise<RpcCaller> {
  return adapterFor(target).connectCaller(target);
}

/** Sends one control message (the end-client); resolves with whether anyone was listening. */
export function sendControl(target: TransportTarget, message: ControlMessage): Promise<{ routed: boolean }> {
  return adapterFor(target).sendControl(target, message);
}

/** The worker's consumer, not started yet: the worker it is handed to starts it. */
export function createConsumer(target: ConsumerTarget): RequestConsumer {
  return adapterFor(target).createConsumer(target);
}

/** The dispatcher's link: connected, listening for `quit`. */
export function connectDispatcherLink(target: LinkTarget): Promise<DispatcherLink> {
  return adapterFor(target).connectDispatcherLink(target);
}
