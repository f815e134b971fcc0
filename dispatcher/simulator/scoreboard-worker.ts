import { parentPort } from 'node:worker_threads';
import { runJob, type Job, type ScoreboardOptions } from './scoreboard.js';

/** A scoreboard thread: runs the jobs it is handed, one at a time, and posts each result back. */
parentPort?.on('message', ({ options, job }: { options: ScoreboardOptions; job: Job }) => {
  parentPort!.postMessage(runJob(options, job));
});
