/**
 * Runs the benchmarks, each in its own process, one after another:
 *   npm run bench                          every benchmark in test/bench/
 *   npm run bench -- scaling               one (or several: scaling dispatcher-cost)
 * A benchmark is any .ts file at the top of test/bench/ except this one; new
 * ones join by themselves, after the ones listed in ORDER.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ORDER = ['capacity', 'throughput', 'dispatcher-cost', 'scaling'];
const here = fileURLToPath(new URL('.', import.meta.url));
const found = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -'.ts'.length));
const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
const all = found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.map((n) => `"${n}"`).join(', ')}; there are: ${all.join(', ')}`);
  process.exit(2);
}

const chosen = asked.length > 0 ? all.filter((name) => asked.includes(name)) : all;
const times: string[] = [];
let failed = 0;
const started = performance.now();
for (const name of chosen) {
  console.log(`\n== ${name} (test/bench/${name}.ts)`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `${here}${name}.ts`], { stdio: 'inherit' });
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = Math.round((performance.now() - t0) / 1000);
  if (code !== 0) failed++;
  times.push(`${name} ${seconds} s${code === 0 ? '' : ` (FAILED, exit ${code})`}`);
}
console.log(`\nbenchmarks: ${times.join(', ')}; ${Math.round((performance.now() - started) / 1000)} s in all. Results in test/bench/results/.`);
process.exit(failed > 0 ? 1 : 0);
