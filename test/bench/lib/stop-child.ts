import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitOf } from '../../helpers/processes.js';

/**
 * Stops a child process as a person would: SIGTERM (a dispatcher drains and
 * removes its workers), then SIGKILL if it has not exited within the grace.
 */
export async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const exited = await Promise.race([exitOf(child).then(() => true), sleep(graceMs, false, { ref: false })]);
  if (exited) return;
  process.stderr.write(`bench: pid ${child.pid} did not exit within ${graceMs / 1000} s of SIGTERM; SIGKILL\n`);
  child.kill('SIGKILL');
  await exitOf(child);
}
