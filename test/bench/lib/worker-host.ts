/**
 * A process that runs one benchmark worker at a time, told what to do over
 * IPC by worker-hosts.ts, so that the worker's CPU (process.cpuUsage) is
 * measured apart from the producer's. Commands, answered in order:
 *   {type:'start', spec}  start a worker of spec.kind   -> {type:'ok'}
 *   {type:'mark'}         start counting CPU            -> {type:'ok'}
 *   {type:'cpu'}          CPU since the mark, in µs     -> {type:'ok', cpuMicros}
 *   {type:'stop'}         close the worker              -> {type:'ok'}
 *   {type:'exit'}         exit (writes a --cpu-prof profile, if asked for)
 */
import { startWorker, type RunningWorker, type WorkerSpec } from './reference-workers.js';

export type HostCommand = { type: 'start'; spec: WorkerSpec } | { type: 'mark' } | { type: 'cpu' } | { type: 'stop' } | { type: 'exit' };
export type HostAnswer = { type: 'ok'; cpuMicros?: number } | { type: 'error'; message: string };

let worker: RunningWorker | undefined;
let mark = process.cpuUsage();

async function handle(command: HostCommand): Promise<HostAnswer> {
  switch (command.type) {
    case 'start':
      worker = await startWorker(command.spec);
      return { type: 'ok' };
    case 'mark':
      mark = process.cpuUsage();
      return { type: 'ok' };
    case 'cpu': {
      const used = process.cpuUsage(mark);
      return { type: 'ok', cpuMicros: used.user + used.system };
    }
    case 'stop':
      await worker?.close();
      worker = undefined;
      return { type: 'ok' };
    case 'exit':
      process.disconnect?.();
      process.exit(0);
  }
}

let queue = Promise.resolve();
process.on('message', (command: HostCommand) => {
  queue = queue.then(async () => {
    const answer = await handle(command).catch((err: unknown): HostAnswer => ({ type: 'error', message: (err as Error).message }));
    process.send?.(answer);
  });
});
