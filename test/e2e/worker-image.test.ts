import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { docker, WORKER_IMAGE } from '../helpers/docker.js';

const run = promisify(execFile);
const workerImage = JSON.parse(readFileSync('package.json', 'utf8')).workerImage as { dist: string[]; dependencies: string[] };

/** Runs node in the worker image (no broker needed) and returns what the script printed, as JSON. */
async function inImage<T>(script: string): Promise<T> {
  const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'node', WORKER_IMAGE, '-e', script]);
  return JSON.parse(stdout) as T;
}

/** What infra/docker/build-image.sh builds, read back from the image the suite runs. */
describe('the worker image', () => {
  it('holds only the compiled worker (dist/worker, dist/infra without the runtimes) and the dependencies it imports', async () => {
    const listing = await inImage<{ dist: string[]; infra: string[]; modules: string[] }>(`
      const fs = require('fs');
      console.log(JSON.stringify({
        dist: fs.readdirSync('/app/dist').sort(),
        infra: fs.readdirSync('/app/dist/infra'),
        modules: fs.readdirSync('/app/node_modules').flatMap((m) => m.startsWith('@') ? fs.readdirSync('/app/node_modules/' + m).map((s) => m + '/' + s) : [m]),
      }));`);
    expect(listing.dist).toEqual([...workerImage.dist].sort());
    expect(listing.infra).not.toContain('runtime'); // the dispatcher's container runtimes (dockerode) stay out
    for (const dependency of workerImage.dependencies) expect(listing.modules).toContain(dependency);
    // Nothing the worker does not import: not the dispatcher's, the producer's or the build's.
    for (const absent of ['dockerode', 'commander', 'cli-progress', 'prom-client', 'hdr-histogram-js', 'uplot', 'typescript', 'vitest']) {
      expect(listing.modules).not.toContain(absent);
    }
  });

  it('skips itself when the image already holds this build', async () => {
    const { stderr } = await run('bash', ['infra/docker/build-image.sh', WORKER_IMAGE]);
    expect(stderr).toMatch(/is up to date \(content [0-9a-f]{16}\)/);
  });

  it('falls back by itself to a base made from the host\'s own Node.js when node:20-slim cannot be had', async () => {
    const labels = (await docker.getImage(WORKER_IMAGE).inspect()).Config.Labels ?? {};
    const official = await docker.getImage('node:20-slim').inspect().then(() => true, () => false);
    // With the official base on the engine the build takes it; without it (no registry, as on CI)
    // it must have fallen back to the local base, named after the host's Node.js.
    expect(labels['org.shoal.base-image']).toBe(official ? 'node:20-slim' : `shoal/node-base:${process.versions.node}`);
    const base = await docker.getImage(labels['org.shoal.base-image']!).inspect();
    expect(base.Config.Labels?.['org.shoal.image'] ?? 'official').toBe(official ? 'official' : 'node-base');
  });
});
