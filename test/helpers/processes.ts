import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { removeNamespace, workerPids } from './broker.js';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of shoal's compiled CLIs to completion. */
export function runCli(script: string, args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`dist/${script}`, ...args], { env: { ...process.env, SHOAL_LOG_LEVEL: 'warn', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the dispatcher in the background; its logs are collected in `output`. */
export function startDispatcher(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['dist/dispatcher/main.js', ...args], {
    env: { ...process.env, SHOAL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

export async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** After a test of a process-runtime pool: SIGKILL the dispatcher if it still runs, then its worker processes. */
export async function killDispatcherAndWorkers(dispatcher: ChildProcess | undefined, namespace: string): Promise<void> {
  if (dispatcher && dispatcher.exitCode === null) {
    dispatcher.kill('SIGKILL');
    await exitOf(dispatcher);
  }
  for (const pid of workerPids(namespace)) process.kill(pid, 'SIGKILL');
}

/** The same, and the namespace's queues and keys removed. */
export async function killProcessPool(dispatcher: ChildProcess | undefined, namespace: string): Promise<void> {
  await killDispatcherAndWorkers(dispatcher, namespace);
  await removeNamespace(namespace);
}
