/**
 * Benchmark entry: the fuzz test's run at 10,000 inputs (test/helpers/fuzz.ts).
 * Random messages straight onto one worker's request queue; prints what became
 * of them (answered ok, run with an unread reply, dead-lettered, by error code,
 * expired), the seed and the time taken. Exits 1 if any message's fate differs
 * from the expectation or the books do not balance.
 * Run: npm run bench -- fuzz (or: npx tsx test/bench/fuzz.ts).
 * Knobs: BENCH_COUNT (10,000), SHOAL_FUZZ_SEED (a new one each run).
 */
import { writeFileSync } from 'node:fs';
import { newNamespace, removeNamespace } from '../helpers/broker.js';
import { runFuzz } from '../helpers/fuzz.js';
import { fuzzSeed } from '../helpers/fuzz-model.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const seed = fuzzSeed();
console.log(`fuzzing one worker with ${COUNT} random messages, seed ${seed} (replay with SHOAL_FUZZ_SEED=${seed})`);

const namespace = newNamespace();
let report;
try {
  report = await runFuzz(namespace, seed, COUNT);
} finally {
  await removeNamespace(namespace);
}

const codes = Object.entries(report.errorReplies).sort(([, a], [, b]) => b - a).map(([code, n]) => `${code}=${n}`).join('  ');
console.log(`  sent ${report.sent}  answered ok ${report.answeredOk}  ran with an unread reply ${report.ranUnanswered}  dead-lettered ${report.deadLettered} (expired ${report.expired})`);
console.log(`  error replies  ${codes}`);
console.log(`  mismatches ${report.mismatches.length}  imbalances ${report.imbalances.length}  still serving ${report.stillServing}  in ${(report.durationMs / 1000).toFixed(1)} s`);
for (const line of [...report.mismatches.slice(0, 20), ...report.imbalances]) console.log(`  ! ${line}`);
const { mismatches, imbalances, ...counts } = report;
writeFileSync(new URL('./results/fuzz.json', import.meta.url), `${JSON.stringify({ benchmark: 'fuzz', ...counts, mismatches: mismatches.length, imbalances }, null, 2)}\n`);
process.exit(mismatches.length === 0 && imbalances.length === 0 && report.stillServing ? 0 : 1);
