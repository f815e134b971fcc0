#!/usr/bin/env node
import { Command } from 'commander';
import { readPoolEvents } from '../infra/pool-events.js';
import cliProgress from 'cli-progress';
import { createLogger } from '../infra/log.js';
import { runLoad } from './load.js';
import { parseProducerConfig, producerSettings } from './config.js';
import { connect } from './client.js';
import { replayPool } from './pool-history.js';
import { writeReport } from './report.js';
import { formatSummary, type CallOutcome } from './summary.js';
import { RunTimeline } from './timeline.js';
import { addSettingFlags, runMain } from '../infra/cli.js';
import { onShutdownSignals } from '../infra/signals.js';

/**
 * The producer CLI: sends N requests through the pool and reports latency.
 * Exits 0 when every request got an ok reply, 1 otherwise, 2 on bad input.
 * Ctrl-C stops sending, waits a short grace for the replies in flight, prints
 * the summary so far and exits 130; a second Ctrl-C exits at once.
 */
const EXIT_INTERRUPTED = 130;
const program = addSettingFlags(
  new Command('shoal-producer').description('Send requests through a shoal pool and report their latency.'),
  producerSettings,
).showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<Record<string, unknown>>();
  // commander sets progress=true unless --no-progress; only pass it when the user said so.
  const config = parseProducerConfig(process.env, { ...opts, progress: opts.progress === false ? false : undefined });
  const logger = createLogger({ component: 'producer' }, 'warn');

  // The CLI calls the pool through the library's client, as an application does.
  const client = await connect({
    url: config.transport === 'bullmq' ? config.redisUrl : config.amqpUrl,
    transport: config.transport,
    namespace: config.namespace,
    deliveryLimit: config.deliveryLimit,
    maxBodyBytes: config.maxBodyBytes,
    name: `shoal producer ${process.pid}`,
    logger,
    connectRetries: 3,
  });
  const caller = { call: (job: string, payload: unknown, timeoutMs: number) => client.request(job, payload, { timeout: timeoutMs }) };

  // --each lines are their own progress, so the bar only shows without them.
  const bar = config.progress && process.stderr.isTTY && !config.json && !config.each
    ? new cliProgress.SingleBar({ format: 'requests {bar} {value}/{total} | ok {ok} | failed {failed} | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  let ok = 0;
  let failed = 0;
  bar?.start(config.count, 0, { ok, failed });
  const startedAt = Date.now();
  const timeline = new RunTimeline(startedAt);
  const onOutcome = (o: CallOutcome) => {
    timeline.add(o);
    if (o.status === 'ok') ok++;
    else failed++;
    bar?.increment(1, { ok, failed });
    if (config.each) {
      const line = `#${o.index} ${o.status}${o.code ? ` ${o.code}` : ''} ${o.latencyMs.toFixed(3)} ms${o.workerId ? ` ${o.workerId}` : ''}`;
      process.stdout.write(`${line}\n`);
    }
  };

  const interrupt = new AbortController();
  const stopListening = onShutdownSignals({
    graceful: () => {
      interrupt.abort();
      bar?.stop();
      process.stderr.write(`interrupted: sending no more; waiting up to ${config.interruptGraceMs} ms for ${client.inFlight} replies in flight (Ctrl-C again to quit now)\n`);
    },
    forced: () => process.exit(EXIT_INTERRUPTED),
  });
  const summary = await runLoad(caller, {
    count: config.count,
    concurrency: config.concurrency,
    ratePerSec: config.rate,
    job: config.job,
    payload: config.payload,
    timeoutMs: config.timeoutMs,
  }, onOutcome, { signal: interrupt.signal, graceMs: config.interruptGraceMs });
  bar?.stop();
  const interrupted = interrupt.signal.aborted;
  if (interrupted) {
    // Calls still in flight are left out of the summary; closing would wait them out.
    if (client.inFlight > 0) process.stderr.write(`interrupted: ${client.inFlight} calls still in flight are not counted\n`);
  } else {
    stopListening();
    await client.close();
  }

  const { confirmed, republished, duplicatesSuppressed, lateReplies } = client.stats;
  const delivery = `delivery  confirmed ${confirmed}  republished ${republished}  duplicate replies dropped ${duplicatesSuppressed}  late replies dropped ${lateReplies}`;
  process.stdout.write(config.json ? `${JSON.stringify({ ...summary, delivery: client.stats })}\n` : `${formatSummary(summary)}\n${delivery}\n`);
  if (config.report !== '-') {
    const seconds = timeline.rows();
    const events = await readPoolEvents(config.redisUrl, config.namespace);
    const relative = (at: number) => Math.round((at - startedAt) / 1000);
    writeReport(config.report, {
      title: `shoal run: ${config.count} x ${config.job} on pool ${config.namespace}`,
      startedAt,
      summary,
      seconds,
      pool: events.length ? replayPool(events, startedAt, Math.max(seconds.length, relative(Date.now()))) : [],
      decisions: events.filter((e) => e.type === 'decision' && e.at >= startedAt).map((e) => ({ t: relative(e.at), reason: (e as { reason: string }).reason })),
    });
    process.stderr.write(`wrote ${config.report}\n`);
  }
  if (interrupted) return EXIT_INTERRUPTED;
  return summary.ok === summary.sent ? 0 : 1;
}

runMain('shoal-producer', main);
