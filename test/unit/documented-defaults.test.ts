import { describe, expect, it } from 'vitest';
import { parseDispatcherConfig } from '../../dispatcher/config.js';
import { STARTING_DRAIN_GRACE_MS } from '../../dispatcher/pool-drain.js';
import { parseProducerConfig } from '../../producer/config.js';
import { EXPIRY_GRACE_MS } from '../../worker/cancellation.js';
import { parseWorkerConfig } from '../../worker/config.js';
import { CONSUMER_PRIORITY } from '../../worker/worker.js';

/**
 * The defaults the READMEs promise, read from the parsed configuration with
 * nothing set: a changed default fails here until the README says the new one
 * (test/PROMISES.md maps each README sentence to its test).
 */
describe('the defaults the READMEs state', () => {
  const dispatcher = parseDispatcherConfig({}, {});
  const producer = parseProducerConfig({}, {});
  const worker = parseWorkerConfig({});

  it('the dispatcher observes and decides four times a second, for a p95 wait target of 200 ms, with the target-wait policy', () => {
    expect(dispatcher.scaleIntervalMs).toBe(250);
    expect(dispatcher.targetWaitP95Ms).toBe(200);
    expect(dispatcher.policy).toBe('target-wait');
  });

  it('the control step: 1 warm spare, up by 1000 at most, a 5 s scale-down window, down by half or 1, a 500 ms backlog drain, no burst memory', () => {
    expect(dispatcher).toMatchObject({
      spares: 1,
      maxStepUp: 1000,
      scaleDownWindowMs: 5_000,
      scaleDownShare: 0.5,
      maxStepDown: 1,
      backlogDrainMs: 500,
      burstMemoryMs: 0,
    });
  });

  it('worker containers: 256 MiB of memory, 1 CPU, a concurrency of 4', () => {
    expect(dispatcher.workerMemoryBytes).toBe(256 * 1024 * 1024);
    expect(dispatcher.workerCpus).toBe(1);
    expect(dispatcher.workerConcurrency).toBe(4);
    expect(worker.concurrency).toBe(4);
  });

  it('metrics and the live page on 127.0.0.1:9464', () => {
    expect(dispatcher.metricsHost).toBe('127.0.0.1');
    expect(dispatcher.metricsPort).toBe(9464);
  });

  it('one pool named shoal on RabbitMQ, a delivery limit of 5 and a body limit of 1 MiB, for every command', () => {
    for (const config of [dispatcher, producer, worker]) {
      expect(config).toMatchObject({ namespace: 'shoal', deliveryLimit: 5, maxBodyBytes: 1024 * 1024, transport: 'rabbitmq' });
    }
  });

  it('workers report every second', () => {
    expect(worker.reportIntervalMs).toBe(1000);
  });

  it('the producer waits 30 s for a reply, and up to 3 s for the replies in flight after Ctrl-C', () => {
    expect(producer.timeoutMs).toBe(30_000);
    expect(producer.interruptGraceMs).toBe(3_000);
  });

  it('spares consume at consumer priority 0, below the workers', () => {
    expect(CONSUMER_PRIORITY.spare).toBe(0);
    expect(CONSUMER_PRIORITY.worker).toBeGreaterThan(0);
  });

  it('a job is cancelled 1 s after its deadline (clock skew), and a worker still starting is drained with a 5 s grace', () => {
    expect(EXPIRY_GRACE_MS).toBe(1000);
    expect(STARTING_DRAIN_GRACE_MS).toBe(5000);
  });
});
