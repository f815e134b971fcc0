import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * `npm test`, the README's test command, type-checks the code, the tests and
 * the benchmarks before it runs vitest: vitest strips types without checking
 * them, so a type error would otherwise pass the suite. Then the dependency
 * check (dependency-cruiser, .dependency-cruiser.cjs).
 */
describe('the test command', () => {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

  it('runs the type check before vitest, and stops if it fails', () => {
    const steps = scripts.test!.split('&&').map((step) => step.trim());
    expect(steps.indexOf('npm run typecheck')).toBeGreaterThanOrEqual(0);
    expect(steps.findIndex((step) => step.startsWith('vitest run'))).toBeGreaterThan(steps.indexOf('npm run typecheck'));
  });

  it('type-checks the code and the tests (with the benchmarks)', () => {
    expect(scripts.typecheck).toContain('tsc -p tsconfig.json --noEmit');
    expect(scripts.typecheck).toContain('tsc -p test/tsconfig.json --noEmit');
    const testConfig = JSON.parse(readFileSync(new URL('../tsconfig.json', import.meta.url), 'utf8')) as { include: string[] };
    expect(testConfig.include).toContain('.'); // test/, bench included
  });

  it('runs the dependency check before vitest: the layers and the raw clients stay where they belong', () => {
    const steps = scripts.test!.split('&&').map((step) => step.trim());
    expect(steps.indexOf('npm run depcheck')).toBeGreaterThanOrEqual(0);
    expect(steps.findIndex((step) => step.startsWith('vitest run'))).toBeGreaterThan(steps.indexOf('npm run depcheck'));
    expect(scripts.depcheck).toContain('depcruise --config .dependency-cruiser.cjs producer worker dispatcher infra');
  });

  it('still runs the setup first', () => {
    expect(scripts.pretest).toBe('bash infra/setup.sh');
  });
});
