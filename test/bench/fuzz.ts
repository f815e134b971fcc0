/**
 * Benchmark entry: the fuzz test's run at 10,000 inputs on each transport
 * (test/helpers/fuzz.ts, fuzz-bullmq.ts). Random messages straight onto one
 * worker's request queue (RabbitMQ), random jobs straight into its BullMQ
 * queue; prints what became of them, the seed and the time taken. Exits 1 if
 * any input's fate differs from the expectation or the books do not balance.
 * Run: npm run bench -- fuzz (or: npx tsx test/bench/fuzz.ts).
 * Knobs: BENCH_COUNT (10,000), SHOAL_FUZZ_SEED (a new one each run),
 * BENCH_TRANSPORTS (rabbitmq,bullmq).
 */
import { newNamespace, removeNamespace } from '../helpers/broker.js';
import { runFuzz } from '../helpers/fuzz.js';
import { runBullmqFuzz } from '../helpers/fuzz-bullmq.js';
import { describeReport, fuzzSeed, type FuzzReport } from '../helpers/fuzz-model.js';
import { knob, listKnob, writeResults } from './lib/setup.js';

const COUNT = knob('BENCH_COUNT', 10_000);
const TRANSPORTS = listKnob('BENCH_TRANSPORTS') ?? ['rabbitmq', 'bullmq'];
const seed = fuzzSeed();
console.log(`fuzzing one worker per transport with ${COUNT} random inputs, seed ${seed} (replay with SHOAL_FUZZ_SEED=${seed})`);

const reports: FuzzReport[] = [];
for (const transport of TRANSPORTS) {
  const namespace = newNamespace();
  try {
    const report = transport === 'bullmq' ? await runBullmqFuzz(namespace, seed, COUNT) : await runFuzz(namespace, seed, COUNT);
    reports.push(report);
    console.log(describeReport(report));
    for (const line of [...report.mismatches.slice(0, 20), ...report.imbalances]) console.log(`  ! ${line}`);
  } finally {
    await removeNamespace(namespace);
  }
}

const summary = reports.map(({ mismatches, imbalances, ...counts }) => ({ ...counts, mismatches: mismatches.length, imbalances }));
writeResults('fuzz', { benchmark: 'fuzz', runs: summary });
process.exit(reports.every((r) => r.mismatches.length === 0 && r.imbalances.length === 0 && r.stillServing) ? 0 : 1);
