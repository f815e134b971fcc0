import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { HostAnswer, HostCommand } from './worker-host.js';
import type { WorkerSpec } from './reference-workers.js';

const HOST_SCRIPT = fileURLToPath(new URL('./worker-host.ts', import.meta.url));

/** One worker-host process (worker-host.ts): one command at a time, answered in order. */
class WorkerHost {
  private readonly child: ChildProcess;
  private answers: ((a: HostAnswer) => void)[] = [];

  constructor(profileDir: string | undefined) {
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    this.child = fork(HOST_SCRIPT, [], { execArgv: ['--import', 'tsx', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (a: HostAnswer) => this.answers.shift()?.(a));
  }

  async send(command: HostCommand): Promise<HostAnswer & { type: 'ok' }> {
    const answer = new Promise<HostAnswer>((resolve) => this.answers.push(resolve));
    this.child.send(command);
    const a = await answer;
    if (a.type === 'error') throw new Error(`worker host: ${command.type} failed: ${a.message}`);
    return a;
  }

  async exit(): Promise<void> {
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'exit' } satisfies HostCommand);
    await exited;
  }
}

/**
 * The worker processes of a benchmark, started once and reused by every run:
 * each run starts a worker of its kind in as many of them as it needs, and
 * reads the CPU they spent over the load. BENCH_PROFILE=<dir> runs them under
 * --cpu-prof, writing one profile per process to <dir> at the end.
 */
export class WorkerHosts {
  private readonly hosts: WorkerHost[];
  private active: WorkerHost[] = [];

  constructor(count: number) {
    this.hosts = Array.from({ length: count }, () => new WorkerHost(process.env.BENCH_PROFILE));
  }

  /** Starts one worker per spec, each in its own process. */
  async start(specs: readonly WorkerSpec[]): Promise<void> {
    if (specs.length > this.hosts.length) throw new Error(`${specs.length} workers asked for, ${this.hosts.length} processes`);
    this.active = this.hosts.slice(0, specs.length);
    await Promise.all(this.active.map((host, i) => host.send({ type: 'start', spec: specs[i]! })));
  }

  async markCpu(): Promise<void> {
    await Promise.all(this.active.map((host) => host.send({ type: 'mark' })));
  }

  /** CPU (user + system, µs) the workers spent since markCpu(), all together. */
  async cpuMicros(): Promise<number> {
    const answers = await Promise.all(this.active.map((host) => host.send({ type: 'cpu' })));
    return answers.reduce((sum, a) => sum + (a.cpuMicros ?? 0), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.active.map((host) => host.send({ type: 'stop' })));
    this.active = [];
  }

  async exit(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.exit()));
  }
}
