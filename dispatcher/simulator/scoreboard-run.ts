import { Worker } from 'node:worker_threads';
import { runJob, scoreboardJobs, type Job, type JobResult, type ScoreboardOptions } from './scoreboard.js';
import { assembleScoreboard, type CellScore } from './scoreboard-summary.js';

export interface RunSettings {
  /** Worker threads to spread the jobs over; 1 runs them on this thread. */
  threads: number;
  /** Called after each job, e.g. for a progress line. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs every job of the scoreboard, on this thread or on a pool of worker threads, and assembles the results. */
export async function runScoreboard(options: ScoreboardOptions, settings: RunSettings): Promise<CellScore[]> {
  const jobs = scoreboardJobs(options);
  const results = settings.threads <= 1 || !canUseThreads() ? runInline(options, jobs, settings) : await runOnThreads(options, jobs, settings);
  return assembleScoreboard(options, results);
}

function runInline(options: ScoreboardOptions, jobs: Job[], settings: RunSettings): JobResult[] {
  return jobs.map((job, i) => {
    const result = runJob(options, job);
    settings.onProgress?.(i + 1, jobs.length);
    return result;
  });
}

/** The worker thread runs compiled JavaScript; from TypeScript sources (tsx, vitest) the jobs run inline. */
function canUseThreads(): boolean {
  return import.meta.url.endsWith('.js');
}

/** Each thread takes the next job as soon as it is free, so the costliest (first) jobs do not end up on one thread. */
function runOnThreads(options: ScoreboardOptions, jobs: Job[], settings: RunSettings): Promise<JobResult[]> {
  return new Promise((resolve, reject) => {
    const results: JobResult[] = [];
    const threads: Worker[] = [];
    let next = 0;
    let failed = false;
    const finish = (err?: unknown) => {
      if (failed) return;
      if (err !== undefined) failed = true;
      if (err !== undefined || results.length === jobs.length) {
        for (const t of threads) void t.terminate();
        if (err !== undefined) reject(err);
        else resolve(results);
      }
    };
    const feed = (thread: Worker) => {
      if (next < jobs.length) thread.postMessage({ options, job: jobs[next++] });
    };
    for (let i = 0; i < Math.min(settings.threads, jobs.length); i++) {
      const thread = new Worker(new URL('./scoreboard-worker.js', import.meta.url));
      threads.push(thread);
      thread.on('message', (result: JobResult) => {
        results.push(result);
        settings.onProgress?.(results.length, jobs.length);
        feed(thread);
        finish();
      });
      thread.on('error', (err) => finish(err));
      feed(thread);
    }
    if (jobs.length === 0) resolve(results);
  });
}
