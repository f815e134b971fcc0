import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starting and stopping a local Redis the way infra/setup.sh does: through
 * infra/start-redis.sh (AOF, appendfsync always). The chaos tests restart the
 * shared one on 6379; integration tests may run a private one on a free port.
 */
export interface RedisServer {
  port: number;
  url: string;
  /** Where its AOF lives: a restart must reload it from there. */
  dir: string;
}

const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

export function redisUp(port = 6379): boolean {
  try {
    return cli(port, 'ping').includes('PONG');
  } catch {
    return false;
  }
}

/** A config value of a running Redis (CONFIG GET). */
export function redisConfig(port: number, key: string): string {
  return cli(port, 'config', 'get', key).trim().split('\n').at(-1) ?? '';
}

/** The shared Redis of this machine, as setup started it. */
export function sharedRedis(): RedisServer {
  return { port: 6379, url: 'redis://127.0.0.1:6379', dir: redisConfig(6379, 'dir') };
}

/**
 * Turns on AOF with appendfsync always on a running Redis, as infra/setup.sh
 * does for one started without, and waits for the first AOF rewrite: until it
 * is written there is no AOF to restart from.
 */
export async function ensurePersistent(server: RedisServer): Promise<void> {
  if (redisConfig(server.port, 'appendonly') !== 'yes') cli(server.port, 'config', 'set', 'appendonly', 'yes');
  if (redisConfig(server.port, 'appendfsync') !== 'always') cli(server.port, 'config', 'set', 'appendfsync', 'always');
  const rewriting = () => /aof_rewrite_(in_progress|scheduled):1/.test(cli(server.port, 'info', 'persistence'));
  for (let i = 0; i < 100 && rewriting(); i++) await sleep(100);
}

/** Starts it with infra/start-redis.sh (the setup's command line) and waits until it answers. */
export async function startRedis(server: RedisServer): Promise<void> {
  execFileSync('bash', ['infra/start-redis.sh'], { stdio: 'ignore', env: { ...process.env, SHOAL_REDIS_DIR: server.dir, SHOAL_REDIS_PORT: String(server.port) } });
  for (let i = 0; i < 100 && !redisUp(server.port); i++) await sleep(100);
  if (!redisUp(server.port)) throw new Error(`Redis on ${server.port} did not start`);
  // Loading the AOF: commands answer LOADING until it is done.
  for (let i = 0; i < 100 && redisConfig(server.port, 'appendonly') === ''; i++) await sleep(100);
}

/**
 * Stops it: `shutdown` writes out what it holds (with AOF: the AOF is already
 * fsynced), `nosave` skips that (without AOF: everything is lost).
 */
export async function stopRedis(server: RedisServer, how: 'shutdown' | 'shutdown nosave' = 'shutdown'): Promise<void> {
  try {
    cli(server.port, ...how.split(' '));
  } catch {
    // redis-cli sees the connection close as it goes
  }
  for (let i = 0; i < 100 && redisUp(server.port); i++) await sleep(100);
}

/** A Redis of its own on a free port, in a fresh directory, started like the shared one. */
export async function startPrivateRedis(): Promise<RedisServer & { remove: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-redis-'));
  const server = { port, url: `redis://127.0.0.1:${port}`, dir };
  await startRedis(server);
  return {
    ...server,
    remove: async () => {
      if (redisUp(port)) await stopRedis(server, 'shutdown nosave');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Drops connections of the shared Redis (CLIENT KILL ID), as a network fault
 * would, leaving Redis itself running: only those whose client name `mine`
 * picks, so a test drops nothing but what it created. Returns the names dropped.
 */
export function killRedisClients(mine: (name: string) => boolean, port = 6379): string[] {
  const victims = redisClients(port).filter((c) => mine(c.name));
  for (const { id } of victims) cli(port, 'client', 'kill', 'id', id);
  return victims.map((c) => c.name);
}

/** Client names on the shared Redis that `mine` picks. */
export function redisClientNames(mine: (name: string) => boolean, port = 6379): string[] {
  return redisClients(port).map((c) => c.name).filter(mine);
}

/** The named connections of a Redis (CLIENT LIST). */
function redisClients(port: number): { id: string; name: string }[] {
  return cli(port, 'client', 'list').trim().split('\n').flatMap((line) => {
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '';
    return id !== undefined && name !== '' ? [{ id, name }] : [];
  });
}
