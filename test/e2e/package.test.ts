import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMQP_URL, newNamespace, REDIS_URL, removeNamespace } from '../helpers/broker.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** A consumer's program, written against the installed package only (test/tsconfig.json leaves it out). */
const PROGRAM = fileURLToPath(new URL('./package-consumer/', import.meta.url));
const TSX = path.join(REPO, 'node_modules/.bin/tsx');
const REPO_PACKAGE = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

interface PackedFile {
  path: string;
  size: number;
}
interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackedFile[];
}

/**
 * The built package as an application gets it: `npm pack`, installed from
 * the tarball into an empty folder (offline from npm's cache when it holds
 * everything, else from the registry), where a small TypeScript program
 * (test/e2e/package-consumer) imports `shoal` and `shoal/worker`: tsc must
 * accept it and refuse its deliberate mistakes, and it must run against a
 * pool. Packs the dist/ that is built (the global setup checks there is one).
 */
describe('the packed package, installed into an empty folder', () => {
  let dir = '';
  let packed: Packed;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoal-package-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO });
    packed = (JSON.parse(stdout) as Packed[])[0]!;
    console.log(`npm pack: ${packed.filename}, ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked, ${packed.entryCount} files`);
    await cp(PROGRAM, dir, { recursive: true });
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({
      name: 'shoal-consumer',
      private: true,
      type: 'module',
      dependencies: { shoal: `file:./${packed.filename}`, typescript: devVersion('typescript'), '@types/node': devVersion('@types/node') },
    }, null, 2));
    expect(packed.filename).toBe(`shoal-${REPO_PACKAGE.version}.tgz`);
    const install = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
    await run('npm', [...install, '--offline'], { cwd: dir }).catch(() => run('npm', [...install, '--prefer-offline'], { cwd: dir }));
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds the build with its declarations, and no sources, maps or tests', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/producer/index.js', 'dist/producer/index.d.ts', 'dist/worker/index.js', 'dist/worker/index.d.ts', 'dist/worker/main.js']));
    expect(paths.filter((p) => !p.startsWith('dist/') && p !== 'package.json' && !/^(README|LICENSE)/i.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.map') || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);
  });

  // Both tsc runs at once: the good program (our declarations checked too) takes most of this test's time.
  it('type-checks the program that uses shoal and shoal/worker (tsc --noEmit, strict), and fails tsc on its deliberate mistakes', async () => {
    const [good, bad] = await Promise.all([tsc(dir, 'tsconfig.json'), tsc(dir, 'tsconfig.bad.json')]);
    expect(good).toEqual({ code: 0, output: '' });

    expect(bad.code).not.toBe(0);
    const errors = bad.output.split('\n').filter((line) => /error TS/.test(line)).map((line) => /^(\S+?)\((\d+),\d+\): error (TS\d+)/.exec(line)?.slice(1));
    // One error on each line marked MISTAKE in bad.ts (a wrong job name, payload, result type and duration), and none elsewhere.
    expect(errors).toEqual([
      ['bad.ts', '6', 'TS2345'],
      ['bad.ts', '7', 'TS2322'],
      ['bad.ts', '8', 'TS2322'],
      ['bad.ts', '9', 'TS2322'],
    ]);
  }, 90_000);

  it.each(EACH_TRANSPORT)('runs its own handler module through shoal/worker and calls it through shoal (%s)', async (transport) => {
    const namespace = newNamespace();
    const env = { ...process.env, POOL_URL: transport === 'bullmq' ? REDIS_URL : AMQP_URL, POOL_NAMESPACE: namespace };
    const worker = spawn(TSX, ['worker.ts'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: worker.stdout });
    const nextLine = async () => JSON.parse(((await once(lines, 'line')) as [string])[0]) as Record<string, unknown>;
    try {
      expect(await nextLine()).toEqual({ ready: 'consumer-app-worker' });
      const { stdout } = await run(TSX, ['app.ts'], { cwd: dir, env });
      expect(JSON.parse(stdout)).toEqual({
        size: { url: 'cat.png', width: 200, height: 150, by: 'consumer-app-worker' },
        height: 150,
        greeting: 'hello shoal',
        refused: { code: 'BAD_WIDTH', known: false },
        timeoutCode: 'TIMEOUT',
      });
      worker.kill('SIGTERM');
      expect(await nextLine()).toEqual({ closed: 'close', processed: 2 });
      const [code] = (await once(worker, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
      await removeNamespace(namespace);
    }
  }, 60_000);
});

/** The version range this repository builds with, so that the consumer checks with the same TypeScript. */
function devVersion(name: string): string {
  return REPO_PACKAGE.devDependencies[name]!;
}

/** Runs the consumer's own tsc; resolves with its exit code and output, whatever they are. */
async function tsc(cwd: string, project: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(path.join(cwd, 'node_modules/.bin/tsc'), ['-p', project], { cwd });
    return { code: 0, output: (stdout + stderr).trim() };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim() };
  }
}
