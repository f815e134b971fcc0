import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { removePoolContainers } from '../../infra/runtime/docker.js';
import { removePoolServices } from '../../infra/runtime/swarm.js';

/** An engine whose services answer remove() with the given outcome: 'ok', or an HTTP status code. */
function engine(outcomes: Record<string, 'ok' | number>, listStatus?: number): Docker {
  return {
    listServices: async () => {
      if (listStatus) throw Object.assign(new Error(`list failed (${listStatus})`), { statusCode: listStatus });
      return Object.keys(outcomes).map((name) => ({ ID: `id-${name}`, Spec: { Name: name } }));
    },
    getService: (id: string) => ({
      remove: async () => {
        const outcome = outcomes[id.replace(/^id-/, '')];
        if (outcome !== 'ok') throw Object.assign(new Error(`(HTTP code ${outcome}) removal failed`), { statusCode: outcome });
      },
    }),
  } as unknown as Docker;
}

describe('removePoolServices counts what it removed', () => {
  it('counts the services it removed; one already gone (404) is no failure and not counted', async () => {
    expect(await removePoolServices(engine({ 'ns-worker': 'ok', 'ns-spare': 404 }), 'ns')).toEqual({ removed: 1, failed: [] });
  });

  it('tries every service and names the ones it could not remove', async () => {
    const result = await removePoolServices(engine({ 'ns-worker': 500, 'ns-spare': 'ok' }), 'ns');
    expect(result).toEqual({ removed: 1, failed: [{ name: 'ns-worker', error: '(HTTP code 500) removal failed' }] });
  });

  it('an engine that is not a swarm manager (503) has nothing to remove; other list errors are thrown', async () => {
    expect(await removePoolServices(engine({}, 503), 'ns')).toEqual({ removed: 0, failed: [] });
    await expect(removePoolServices(engine({}, 500), 'ns')).rejects.toThrow('list failed (500)');
  });
});

describe('removePoolContainers counts what it removed', () => {
  it('one gone (404) or already being removed (409) is no failure and not counted; another error is named', async () => {
    const outcomes: Record<string, 'ok' | number> = { a: 'ok', b: 404, c: 409, d: 500 };
    const engine = {
      listContainers: async () => Object.keys(outcomes).map((name) => ({ Id: name, Names: [`/${name}-container`] })),
      getContainer: (id: string) => ({
        remove: async () => {
          const outcome = outcomes[id];
          if (outcome !== 'ok') throw Object.assign(new Error(`(HTTP code ${outcome}) removal failed`), { statusCode: outcome });
        },
      }),
    } as unknown as Docker;
    expect(await removePoolContainers(engine, 'ns')).toEqual({ removed: 1, failed: [{ name: 'd-container', error: '(HTTP code 500) removal failed' }] });
  });
});
