#!/usr/bin/env node
import { Command } from 'commander';
import { commonSettings, parseSettings } from '../../infra/config.js';
import { LABEL_POOL } from '../../infra/runtime/docker.js';
import { removePool } from '../../infra/runtime/engine.js';
import { addSettingFlags, runMain } from '../../infra/cli.js';
import { dispatcherSettings } from '../config.js';

/**
 * Removes the Swarm services and the containers of one pool (label
 * org.shoal.pool=<namespace>) and nothing else: unlike `docker stop $(docker ps -q)`,
 * it cannot touch another pool's or anyone else's.
 */
const cleanupSettings = { namespace: commonSettings.namespace, dockerTimeoutMs: dispatcherSettings.dockerTimeoutMs };
const program = addSettingFlags(
  new Command('shoal-cleanup').description(`Remove every Swarm service and container labelled ${LABEL_POOL}=<namespace>, and nothing else.`),
  cleanupSettings,
).showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const { namespace, dockerTimeoutMs } = parseSettings(cleanupSettings, process.env, program.opts());
  const { services, containers } = await removePool(namespace, dockerTimeoutMs);
  process.stdout.write(`removed ${services.removed} service(s) and ${containers.removed} container(s) of pool "${namespace}"\n`);
  for (const { name, error } of services.failed) process.stderr.write(`shoal-cleanup: could not remove service ${name}: ${error}\n`);
  for (const { name, error } of containers.failed) process.stderr.write(`shoal-cleanup: could not remove container ${name}: ${error}\n`);
  return services.failed.length + containers.failed.length > 0 ? 1 : 0;
}

runMain('shoal-cleanup', main);
