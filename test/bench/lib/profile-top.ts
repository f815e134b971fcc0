/**
 * The top frames of a V8 CPU profile (`node --cpu-prof`) by self time, and
 * the share of the busy (non-idle) samples each takes:
 *   npx tsx test/bench/lib/profile-top.ts <file.cpuprofile> [count] [--by-file]
 * --by-file adds up the self time per source file (amqplib's, shoal's, node's).
 * Used to find where the request path spends its time (BENCHMARKS.md §1).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const byFile = process.argv.includes('--by-file');
const [file, countArg] = process.argv.slice(2).filter((a) => a !== '--by-file');
if (!file) {
  console.error('usage: profile-top.ts <file.cpuprofile> [count]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map<string, number>();
let busy = 0;
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frame = byId.get(id)!.callFrame;
  if (frame.functionName === '(idle)') return;
  busy += dt;
  const where = frame.url ? `${path.basename(frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}` : '';
  const key = byFile ? fileOf(frame.url, frame.functionName) : `${frame.functionName || '(anonymous)'} ${where}`.trim();
  selfMicros.set(key, (selfMicros.get(key) ?? 0) + dt);
});
console.log(`${file}: busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms`);
const top = [...selfMicros.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(countArg ?? 25));
for (const [key, us] of top) console.log(`${((us / busy) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);

/** A frame's file, with node_modules' packages named as such; frames without one (GC, native) by name. */
function fileOf(url: string, functionName: string): string {
  if (!url) return functionName || '(native)';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return `package ${module[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return path.relative(process.cwd(), url.replace(/^file:\/\//, ''));
}
