import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm run depcheck` (dependency-cruiser, part of `npm test`) against a small
 * tree that breaks each rule once: the check must fail and name every
 * violation. (That the real tree passes is what `npm test` itself checks.)
 */
describe('the dependency check', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'shoal-depcheck-'));
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
      'package.json': JSON.stringify({ name: 'fixture', type: 'module' }),
      'dispatcher/pool.ts': "import amqp from 'amqplib';\nexport const pool = amqp;\n",
      'producer/cli.ts': "import { pool } from '../dispatcher/pool.js';\nexport const cli = pool;\n",
      'worker/worker.ts': "import type { Redis } from 'ioredis';\nimport { pool } from '../dispatcher/pool.js';\nexport const worker: Redis | typeof pool = pool;\n",
      'infra/adapter.ts': "import Docker from 'dockerode';\nimport { cli } from '../producer/cli.js';\nexport const adapter = [Docker, cli];\n",
      'infra/clean.ts': "import amqp from 'amqplib';\nexport const clean = amqp;\n",
      'dispatcher/dead.ts': "import { Queue } from 'bullmq';\nexport const dead = Queue;\n",
      // two modules that import each other, if only for types
      'dispatcher/plan.ts': "import type { Step } from './step.js';\nexport interface Plan { steps: Step[] }\n",
      'dispatcher/step.ts': "import type { Plan } from './plan.js';\nexport interface Step { plan: Plan }\n",
      // OpenTelemetry through infra/tracing.ts alone, and its API alone
      'worker/traced.ts': "import trace from '@opentelemetry/api';\nexport const traced = trace;\n",
      'infra/tracing.ts': "import api from '@opentelemetry/api';\nimport sdk from '@opentelemetry/sdk-trace';\nexport const tracing = [api, sdk];\n",
    };
    for (const name of ['amqplib', 'bullmq', 'dockerode', 'ioredis', '@opentelemetry/api', '@opentelemetry/sdk-trace']) {
      files[`node_modules/${name}/package.json`] = JSON.stringify({ name, main: 'index.js', types: 'index.d.ts' });
      files[`node_modules/${name}/index.js`] = 'module.exports = {};\n';
      files[`node_modules/${name}/index.d.ts`] = name === 'ioredis' ? 'export interface Redis {}\n' : 'declare const x: unknown;\nexport default x;\n';
    }
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails and names each import that crosses a layer or reaches a raw client outside infra/', async () => {
    const depcruise = path.join(root, 'node_modules/.bin/depcruise');
    const config = path.join(root, '.dependency-cruiser.cjs');
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(depcruise, ['--config', config, 'producer', 'worker', 'dispatcher', 'infra'], { cwd: dir }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
      });
    });
    expect(code).not.toBe(0);
    const violations = output.split('\n').filter((line) => line.includes('error ')).map((line) => line.trim()).sort();
    expect(violations).toEqual([
      'error clients-do-not-import-the-dispatcher: producer/cli.ts → dispatcher/pool.ts',
      'error clients-do-not-import-the-dispatcher: worker/worker.ts → dispatcher/pool.ts',
      'error infra-is-below-the-product: infra/adapter.ts → producer/cli.ts',
      'error no-cycles: dispatcher/plan.ts →',
      'error opentelemetry-api-only: infra/tracing.ts → node_modules/@opentelemetry/sdk-trace/index.js',
      'error raw-clients-only-in-infra: dispatcher/dead.ts → node_modules/bullmq/index.js',
      'error raw-clients-only-in-infra: dispatcher/pool.ts → node_modules/amqplib/index.js',
      // a type-only import counts too
      'error raw-clients-only-in-infra: worker/worker.ts → node_modules/ioredis/index.js',
      'error tracing-through-one-module: worker/traced.ts → node_modules/@opentelemetry/api/index.js',
    ]);
  });
});
