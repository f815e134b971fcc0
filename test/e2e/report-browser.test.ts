import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { analyseScreenshot, launchChromium, openPage, pageErrors, readCharts, series, type ChartView } from '../helpers/browser.js';
import { consumerCount, newNamespace, removeNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';

/**
 * The producer's HTML report and the dispatcher's live page, opened in a real
 * headless Chromium: the charts must be drawn with data, and a screenshot must
 * not be blank. A real dispatcher (local-process runtime) serves both.
 */
describe('charts in a real headless Chromium', () => {
  const namespace = newNamespace();
  /** Screenshots and the report; kept for a look with KEEP_SCREENSHOTS=1. */
  const screenshots = mkdtempSync(path.join(tmpdir(), 'shoal-screens-'));
  let dispatcher: ChildProcess;
  let liveUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    const started = startDispatcher(['--min', '1', '--max', '4', '--spares', '1', '--runtime', 'process', '--metrics-port', '0', '--scale-down-window', '5s', '--namespace', namespace]);
    dispatcher = started.child;
    liveUrl = (await waitFor('the live page URL in the log', () => /"url":"(http:\/\/[^"]+\/)metrics"/.exec(started.output())?.[1])) as string;
    await waitFor('a worker and a spare consuming', async () => (await consumerCount(topologyFor(namespace))) === 2);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (dispatcher && dispatcher.exitCode === null) {
      dispatcher.kill('SIGTERM'); // drains and removes its workers
      await exitOf(dispatcher);
    }
    for (const pid of workerPids(namespace)) process.kill(pid, 'SIGKILL');
    await removeNamespace(namespace);
    if (!process.env.KEEP_SCREENSHOTS) rmSync(screenshots, { recursive: true, force: true });
  });

  /** An open-loop load: 50 ms jobs at 150/s, more than one worker and a spare can serve. */
  const load = (count: number, extra: string[] = []) =>
    runCli('producer/cli.js', ['--count', String(count), '--rate', '150', '--concurrency', '1000', '-j', 'sleep', '-p', '{"ms":50}', '--json', '--namespace', namespace, ...extra]);

  async function expectScreenshotNotBlank(page: Page, name: string) {
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(path.join(screenshots, `${name}.png`), png);
    const shot = analyseScreenshot(png);
    // A blank page is one flat colour: no ink, a handful of colours, no variance.
    expect(shot.inkShare, `${name}: share of non-white pixels`).toBeGreaterThan(0.02);
    expect(shot.colours, `${name}: distinct colours`).toBeGreaterThan(30);
    expect(shot.luminanceStdDev, `${name}: luminance spread`).toBeGreaterThan(10);
  }

  function expectDrawn(chart: ChartView | undefined, label: string) {
    const s = series(chart, label);
    expect(s, `series "${label}" of chart #${chart?.container}`).toBeDefined();
    expect(s!.values, `values of "${label}"`).toBeGreaterThan(0);
    expect(s!.pixels, `pixels of "${label}" on the canvas`).toBeGreaterThan(50);
  }

  it('tells a blank page from a drawn one by its screenshot', async () => {
    const page = await openPage(browser);
    await page.setContent('<html><body></body></html>');
    const blank = analyseScreenshot(await page.screenshot({ fullPage: true }));
    expect(blank).toMatchObject({ inkShare: 0, colours: 1 });
    expect(blank.luminanceStdDev).toBeLessThan(0.01);
    await page.close();
  });

  it("draws the producer's HTML report of a real run: latency, throughput and the pool", async () => {
    const report = path.join(screenshots, 'run.html');
    const run = await load(750, ['--report', report]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ sent: 750, ok: 750 });

    const page = await openPage(browser);
    await page.goto(pathToFileURL(report).href);
    const charts = await readCharts(page);
    expect(charts.map((c) => c.container)).toEqual(['latency', 'throughput', 'pool']);
    const [latency, throughput, pool] = charts;
    // 750 requests at 150/s: five seconds sent, each a point.
    expect(latency!.points).toBeGreaterThanOrEqual(5);
    for (const label of ['p50', 'p90', 'p99']) expectDrawn(latency, label);
    expectDrawn(throughput, 'ok');
    // It plots the rate, not a trickle: some second above a third of the 150/s sent (a loaded 2-core machine answers in uneven bursts).
    expect(series(throughput, 'ok')!.max).toBeGreaterThan(50);
    expectDrawn(pool, 'regular');
    expect(series(pool, 'regular')!.max).toBeGreaterThanOrEqual(1);
    expect(series(pool, 'spares')!.values).toBe(pool!.points);
    expect(await page.locator('canvas').count()).toBeGreaterThanOrEqual(3);
    await expectScreenshotNotBlank(page, 'report');
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('draws the live page and updates it as the dispatcher runs', async () => {
    const page = await openPage(browser);
    await page.goto(liveUrl);
    const first = await waitFor('the live charts with two ticks', async () => {
      const charts = await readCharts(page);
      return charts.length === 3 && charts[0]!.points >= 2 && charts;
    });
    expect(first.map((c) => c.container)).toEqual(['pool', 'queue', 'wait']);
    const run = load(450); // three seconds of load while the page watches
    await sleep(2500);
    expect((await run).code).toBe(0);

    // Later reads hold more ticks, and the load's arrivals show on the queue chart.
    const later = await waitFor('the live charts to grow and show arrivals', async () => {
      const charts = await readCharts(page);
      const arrivals = series(charts[1], 'arrivals/s');
      return charts[0]!.points >= first[0]!.points + 3 && (arrivals?.max ?? 0) > 10 && charts;
    });
    const [pool, queue, wait] = later;
    expect(pool!.lastX!).toBeGreaterThan(first[0]!.lastX!);
    expectDrawn(pool, 'regular');
    expectDrawn(pool, 'desired');
    expectDrawn(queue, 'arrivals/s');
    expect(series(wait, 'p95 wait')!.values).toBeGreaterThan(0);
    expect(await page.locator('#now').textContent()).toContain(`policy target-wait`);
    await expectScreenshotNotBlank(page, 'live');
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });
});
