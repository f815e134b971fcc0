import type Docker from 'dockerode';
import type { SecretUrlVariable } from '../config.js';
import { ShoalError } from '../errors.js';
import { LABEL_POOL } from './docker.js';
import type { SwarmEngine } from './swarm-engine.js';
import { currentTasks, hasEnded, serviceName, serviceSpec, taskTemplateDrift, type SecretRef, type SwarmService } from './swarm-spec.js';
import type { SwarmRuntimeOptions } from './swarm-options.js';
import type { WorkerRole } from './types.js';

/**
 * The pool's two services, `<ns>-worker` and `<ns>-spare`: created with this
 * dispatcher's settings, or adopted from an earlier dispatcher and brought to
 * them (drift), with the Swarm secrets that hold the broker and Redis URLs.
 */
export class SwarmServices {
  /** Roles whose service has this dispatcher's task template (created or updated by it). */
  private readonly specChecked = new Set<WorkerRole>();
  /** Roles whose differing settings were already warned about. */
  private readonly driftWarned = new Set<WorkerRole>();

  constructor(private readonly engine: SwarmEngine, private readonly options: SwarmRuntimeOptions) {}

  /**
   * The role's service, created with this dispatcher's settings; an existing
   * one (left by an earlier dispatcher) is brought to them first.
   */
  async ensure(role: WorkerRole, env: Record<string, string>): Promise<SwarmService> {
    const existing = await this.engine.service(role);
    if (existing && this.specChecked.has(role)) return existing;
    const { docker, namespace } = this.options;
    const amqpUrlSecret = this.options.amqpUrlSecret ? await this.secret(this.options.amqpUrlSecret, 'SHOAL_AMQP_URL') : undefined;
    const redisUrlSecret = this.options.redisUrlSecret ? await this.secret(this.options.redisUrlSecret, 'SHOAL_REDIS_URL') : undefined;
    const spec = serviceSpec({ ...this.options, role, env, amqpUrlSecret, redisUrlSecret });
    if (existing) return this.adopt(role, existing, spec);
    await this.engine.call(`createService ${serviceName(namespace, role)}`, (abortSignal) => docker.createService({ ...spec, abortSignal } as Docker.CreateServiceOptions)).catch((err: { statusCode?: number; message?: string }) => {
      if (err.statusCode === 409) {
        throw new ShoalError('NAME_TAKEN', `a service named ${serviceName(namespace, role)} exists but is not labelled ${LABEL_POOL}=${namespace}; shoal leaves it alone. Use another --namespace.`, { cause: err });
      }
      throw err;
    });
    this.options.logger.info({ service: serviceName(namespace, role), image: this.options.image }, 'created the pool service');
    const created = await this.engine.service(role);
    if (!created) throw new ShoalError('START_FAILED', `service ${serviceName(namespace, role)} vanished after it was created`);
    this.specChecked.add(role);
    return created;
  }

  /**
   * A service an earlier dispatcher created may have other settings (image,
   * concurrency, transport, limits, secrets). Its task template is updated
   * when no task of it runs. While some run it is left as it is: Swarm would
   * replace running tasks in a rolling update, behind the pool's back; the
   * new settings then apply once those workers are gone.
   */
  private async adopt(role: WorkerRole, existing: SwarmService, desired: Record<string, unknown>): Promise<SwarmService> {
    const drift = taskTemplateDrift(existing.Spec, desired);
    const service = existing.Spec.Name;
    if (drift.length === 0) {
      this.specChecked.add(role);
      return existing;
    }
    const running = currentTasks(await this.engine.tasksOf(existing.ID)).filter((t) => !hasEnded(t));
    if (running.length > 0) {
      if (!this.driftWarned.has(role)) {
        this.driftWarned.add(role);
        this.options.logger.warn(
          { service, drift, running: running.length },
          'the existing service has other settings than this dispatcher; new workers keep the old ones until its running workers are gone (or run shoal-cleanup first)',
        );
      }
      return existing;
    }
    await this.engine.updateSpec(role, (spec) => ({ ...spec, TaskTemplate: desired.TaskTemplate }));
    this.options.logger.info({ service, drift }, 'updated the existing pool service to this dispatcher\'s settings');
    this.specChecked.add(role);
    const updated = await this.engine.service(role);
    if (!updated) throw new ShoalError('UNKNOWN_SERVICE', `service ${service} is gone`);
    return updated;
  }

  private async secret(name: string, variable: SecretUrlVariable): Promise<SecretRef> {
    // The name filter matches by prefix: take the exact name.
    const found = ((await this.engine.call('listSecrets', (abortSignal) => this.options.docker.listSecrets({ filters: { name: [name] }, abortSignal }))) as unknown as { ID: string; Spec: { Name: string } }[]).find((s) => s.Spec.Name === name);
    if (!found) {
      throw new ShoalError('SECRET_MISSING', `Swarm secret ${name} not found; create it with: printf '%s' "$${variable}" | docker secret create ${name} -`);
    }
    return { id: found.ID, name };
  }
}
