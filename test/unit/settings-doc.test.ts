import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dispatcherSettings } from '../../dispatcher/config.js';
import type { Settings } from '../../infra/config.js';
import { producerSettings } from '../../producer/config.js';
import { workerSettings } from '../../worker/config.js';

/** infra/SETTINGS.md is the reader's table of every setting: it may not miss one of the code's. */
describe('infra/SETTINGS.md', () => {
  const doc = readFileSync('infra/SETTINGS.md', 'utf8');

  it.each([
    ['dispatcher', dispatcherSettings],
    ['producer', producerSettings],
    ['worker', workerSettings],
  ])('names every variable and flag of the %s', (_command, settings) => {
    for (const setting of Object.values(settings as Settings)) {
      expect(doc, setting.env).toContain(`\`${setting.env}\``);
      if (setting.flag) expect(doc, setting.flag).toContain(`\`${setting.flag}\``);
    }
  });
});
