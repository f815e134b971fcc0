import { existsSync } from 'node:fs';
import pngjs from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package; infra/setup.sh installs it, test/global-setup.ts checks it. */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`npm run setup\` (it installs Debian's chromium package)`);
  return chromium.launch({ executablePath: CHROMIUM });
}

/**
 * Records every uPlot chart a page creates in `window.__charts`: the pages
 * keep no handle on their charts, and a test wants their data, not just DOM.
 * Runs before the page's own scripts, and wraps the constructor that the
 * inlined `var uPlot = ...` assigns.
 */
const CAPTURE_CHARTS = `
window.__charts = [];
let original, wrapped;
Object.defineProperty(window, 'uPlot', {
  configurable: true,
  get() { return wrapped; },
  set(value) {
    original = value;
    wrapped = function (...args) { const chart = new original(...args); window.__charts.push(chart); return chart; };
    Object.setPrototypeOf(wrapped, original);
    wrapped.prototype = original.prototype;
  },
});`;

export async function openPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  (page as Page & { errors: string[] }).errors = errors;
  await page.addInitScript(CAPTURE_CHARTS);
  return page;
}

export const pageErrors = (page: Page) => (page as Page & { errors?: string[] }).errors ?? [];

export interface SeriesView {
  label: string;
  /** Points that have a value (not null). */
  values: number;
  max: number | null;
  /** Canvas pixels drawn in this series' colour: > 0 means its line is on screen. */
  pixels: number;
}

export interface ChartView {
  /** The id of the element the chart was drawn into. */
  container: string;
  points: number;
  firstX: number | null;
  lastX: number | null;
  series: SeriesView[];
}

/**
 * Runs in the page (plain JS: the tests are typechecked without DOM types).
 * For each chart: its data through uPlot, and per series the canvas pixels in
 * that series' colour, which says its line is really drawn.
 */
const READ_CHARTS = `(() => {
  const rgbOf = (color) => {
    const probe = document.createElement('canvas').getContext('2d');
    probe.fillStyle = color;
    probe.fillRect(0, 0, 1, 1);
    return probe.getImageData(0, 0, 1, 1).data;
  };
  return window.__charts.map((u) => {
    const canvas = u.ctx.canvas;
    const pixels = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const xs = u.data[0] || [];
    return {
      container: u.root.parentElement ? u.root.parentElement.id : '',
      points: xs.length,
      firstX: xs.length ? xs[0] : null,
      lastX: xs.length ? xs[xs.length - 1] : null,
      series: u.series.slice(1).map((s, i) => {
        const values = (u.data[i + 1] || []).filter((v) => v !== null && v !== undefined);
        const [r, g, b] = rgbOf(String(typeof s.stroke === 'function' ? s.stroke(u, i + 1) : s.stroke));
        let count = 0;
        for (let p = 0; p < pixels.length; p += 4) {
          if (pixels[p + 3] > 200 && Math.abs(pixels[p] - r) + Math.abs(pixels[p + 1] - g) + Math.abs(pixels[p + 2] - b) < 40) count++;
        }
        return { label: String(s.label), values: values.length, max: values.length ? Math.max(...values) : null, pixels: count };
      }),
    };
  });
})()`;

/** Every chart on the page: its data (through uPlot) and what its canvas shows. */
export function readCharts(page: Page): Promise<ChartView[]> {
  return page.evaluate(READ_CHARTS) as Promise<ChartView[]>;
}

export const series = (chart: ChartView | undefined, label: string): SeriesView | undefined => chart?.series.find((s) => s.label === label);

export interface ScreenshotView {
  bytes: number;
  width: number;
  height: number;
  /** Share of pixels that are not (near) white. */
  inkShare: number;
  /** Distinct colours, quantized to 5 bits per channel. */
  colours: number;
  /** Standard deviation of luminance over all pixels (0 for a blank page). */
  luminanceStdDev: number;
}

/** Decodes a PNG screenshot and measures how much is on it. */
export function analyseScreenshot(png: Buffer): ScreenshotView {
  const image = pngjs.PNG.sync.read(png);
  const { data, width, height } = image;
  let ink = 0;
  let sum = 0;
  let sumSquares = 0;
  const colours = new Set<number>();
  for (let p = 0; p < data.length; p += 4) {
    const [r, g, b] = [data[p]!, data[p + 1]!, data[p + 2]!];
    if (r < 235 || g < 235 || b < 235) ink++;
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += luminance;
    sumSquares += luminance * luminance;
    colours.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3));
  }
  const n = width * height;
  const mean = sum / n;
  return { bytes: png.length, width, height, inkShare: ink / n, colours: colours.size, luminanceStdDev: Math.sqrt(Math.max(0, sumSquares / n - mean * mean)) };
}
