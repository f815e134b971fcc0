import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Tick } from './autoscaler.js';
import type { Member } from './pool-member.js';

/** The dispatcher's Prometheus metrics and live page (bound to localhost by default). */
export class DispatcherMetrics {
  readonly registry = new Registry();
  private readonly workers = new Gauge({ name: 'shoal_workers', help: 'Workers of the pool by role and state', labelNames: ['role', 'state'], registers: [this.registry] });
  private readonly desired = new Gauge({ name: 'shoal_desired_workers', help: 'Regular workers the policy wants', registers: [this.registry] });
  private readonly backlog = new Gauge({ name: 'shoal_queue_backlog', help: 'Requests waiting in the queue', registers: [this.registry] });
  private readonly inFlight = new Gauge({ name: 'shoal_in_flight', help: 'Requests held by workers', registers: [this.registry] });
  private readonly arrival = new Gauge({ name: 'shoal_arrival_rate', help: 'Requests arriving per second (smoothed)', registers: [this.registry] });
  private readonly service = new Gauge({ name: 'shoal_service_time_ms', help: 'Mean service time (smoothed)', registers: [this.registry] });
  private readonly wait = new Gauge({ name: 'shoal_queue_wait_p95_ms', help: 'Observed p95 queue wait', registers: [this.registry] });
  private readonly scaleEvents = new Counter({ name: 'shoal_scale_events_total', help: 'Decisions that changed the pool size', labelNames: ['direction'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'shoal_dispatcher_' });
  }

  record(tick: Tick, members: readonly Member[]): void {
    this.workers.reset();
    for (const m of members) this.workers.inc({ role: m.role, state: m.state });
    this.desired.set(tick.decision.desired);
    this.backlog.set(tick.observation.backlog);
    this.inFlight.set(tick.observation.inFlight);
    this.arrival.set(tick.observation.arrivalRate);
    if (tick.observation.serviceMs !== undefined) this.service.set(tick.observation.serviceMs);
    if (tick.observation.waitP95Ms !== undefined) this.wait.set(tick.observation.waitP95Ms);
    if (tick.changed) this.scaleEvents.inc({ direction: tick.decision.desired > tick.pool.active + tick.pool.starting ? 'up' : 'down' });
  }

  /**
   * Serves /metrics (Prometheus), /status (JSON: the pool now and its recent
   * history) and / (a live page of charts). Port 0 picks a free one.
   */
  async serve(host: string, port: number, live: { page: string; status: () => unknown }): Promise<{ server: http.Server; url: string }> {
    const server = http.createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(live.page);
      } else if (req.url === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(live.status()));
      } else if (req.url === '/metrics') {
        this.registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      } else {
        res.writeHead(404).end('see /, /status or /metrics\n');
      }
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const address = server.address() as AddressInfo;
    return { server, url: `http://${host}:${address.port}/metrics` };
  }
}
