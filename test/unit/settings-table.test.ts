import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { dispatcherSettings, parseDispatcherConfig, policyConfig } from '../../dispatcher/config.js';
import { defaultPolicyConfig } from '../../dispatcher/policy/index.js';
import { addSettingFlags } from '../../infra/cli.js';
import { formatDuration, type Settings } from '../../infra/config.js';
import { parseProducerConfig, producerSettings } from '../../producer/config.js';

/** One table per command: its flags, variables, defaults and help come from its settings. */
describe('the dispatcher settings table', () => {
  const command = () => addSettingFlags(new Command('shoal-dispatcher').exitOverride(), dispatcherSettings);

  it('has the policy defaults the simulator uses, with nothing set', () => {
    expect(policyConfig(parseDispatcherConfig({}, {}))).toEqual(defaultPolicyConfig);
  });

  it('gives every flag a help line that names its variable and shows its default', () => {
    const help = command().helpInformation().replace(/\s+/g, ' ');
    for (const setting of Object.values(dispatcherSettings)) {
      if (!('flag' in setting)) continue;
      expect(setting, setting.flag).toHaveProperty('help');
      expect(help).toContain(setting.flag);
      expect(help).toContain(setting.env);
    }
    expect(help).toContain('(SHOAL_SCALE_DOWN_WINDOW; default 5s)');
    expect(help).toContain('(SHOAL_TARGET_WAIT_P95; default 200ms)');
  });

  it('parses what the generated flags take, flags over the environment', () => {
    const program = command();
    program.parse(['--scale-down-window', '2s', '--min', '3', '--max', '7'], { from: 'user' });
    const config = parseDispatcherConfig({ SHOAL_MIN_WORKERS: '2', SHOAL_SPARES: '0' }, program.opts());
    expect(config).toMatchObject({ scaleDownWindowMs: 2000, min: 3, max: 7, spares: 0 });
  });

  it('writes durations as a person does', () => {
    expect([formatDuration(250), formatDuration(5000), formatDuration(60_000), formatDuration(0)]).toEqual(['250ms', '5s', '1m', '0ms']);
  });
});

describe('the producer settings table', () => {
  it('gives every flag a help line, and takes the short aliases and switches', () => {
    const program = addSettingFlags(new Command('shoal-producer').exitOverride(), producerSettings);
    const help = program.helpInformation();
    for (const setting of Object.values(producerSettings as Settings)) if (setting.flag) expect(setting.help, setting.flag).toBeDefined();
    expect(help).toContain('-n, --count <n>');
    program.parse(['-n', '50', '-t', '2s', '--json', '--no-progress'], { from: 'user' });
    const opts = program.opts<Record<string, unknown>>();
    expect(parseProducerConfig({}, { ...opts, progress: opts.progress === false ? false : undefined })).toMatchObject({ count: 50, timeoutMs: 2000, json: true, progress: false });
  });
});
