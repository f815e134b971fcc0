import { afterEach, beforeEach } from 'vitest';
import type { RpcCaller, TransportKind } from '../../infra/transport/types.js';
import type { Worker } from '../../worker/worker.js';
import { runWorker, type RunningWorker, type RunWorkerOptions } from '../../worker/index.js';
import { connectClient, newNamespace, removeNamespace, startWorker, type TestWorkerOptions } from './broker.js';

/**
 * A fresh namespace per test, and in-process workers and clients that are
 * closed, with the namespace's queues and keys removed, after each test.
 */
export function usePool(transport: TransportKind = 'rabbitmq') {
  let namespace = '';
  let workers: Worker[] = [];
  let clients: RpcCaller[] = [];

  beforeEach(() => {
    namespace = newNamespace();
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(workers.map((w) => w.close()));
    await removeNamespace(namespace);
    workers = [];
    clients = [];
  });

  return {
    get namespace() {
      return namespace;
    },
    transport,
    async worker(workerId: string, options?: TestWorkerOptions): Promise<Worker> {
      const worker = await startWorker(namespace, workerId, { transport, ...options });
      workers.push(worker);
      return worker;
    },
    async client(deliveryLimit?: number): Promise<RpcCaller> {
      const client = await connectClient(namespace, deliveryLimit, transport);
      clients.push(client);
      return client;
    },
  };
}

/**
 * A fresh namespace per test, and workers run through the library
 * (`runWorker`, as an application runs them) in it: closed, with the
 * namespace's queues and keys removed, after each test.
 */
export function useLibraryWorkers() {
  let namespace = '';
  let workers: RunningWorker[] = [];

  beforeEach(() => {
    namespace = newNamespace();
  });

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close()));
    workers = [];
    await removeNamespace(namespace);
  });

  return {
    get namespace() {
      return namespace;
    },
    async worker(options: Omit<RunWorkerOptions, 'namespace'>): Promise<RunningWorker> {
      const worker = await runWorker({ ...options, namespace });
      workers.push(worker);
      return worker;
    },
  };
}
