import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * test/PROMISES.md maps each promise of the READMEs to the tests that prove
 * it. This keeps the map true: a quoted promise must still be in its README
 * (so a README that drops or rewords it forces the map to follow), and a cited
 * test must still exist under its title (so a renamed or deleted test does too).
 */

const MAP = 'test/PROMISES.md';

interface Proof {
  file: string;
  title: string;
}

interface PromiseRow {
  line: number;
  quote: string;
  readme: string;
  proofs: Proof[];
  unproved: boolean;
}

/** A row: | "promise" | README path | proofs |, a proof: `test file` › "title substring". */
const ROW = /^\|\s*"(.+)"\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$/;
const PROOF = /`(test\/[^`]+)`\s*›\s*"([^"]+)"/g;

export function parsePromises(markdown: string): PromiseRow[] {
  const rows: PromiseRow[] = [];
  markdown.split('\n').forEach((text, index) => {
    const match = ROW.exec(text);
    if (!match) return;
    const [, quote, readme, proofs] = match as unknown as [string, string, string, string];
    rows.push({
      line: index + 1,
      quote,
      readme,
      proofs: [...proofs.matchAll(PROOF)].map(([, file, title]) => ({ file: file!, title: title! })),
      unproved: proofs.includes('**unproved**'),
    });
  });
  return rows;
}

/** Markdown wraps lines anywhere: compare text with every run of whitespace as one space. */
const normalized = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * The titles of a test file's tests and suites: the string that opens `it(`,
 * `test(`, `describe(`, or the call that `.each(...)` returns; and the first
 * string of each row of an `.each` table, which its `%s` title prints. Quotes
 * escaped in the source read as plain quotes, as in the test report.
 */
const TITLE = /(?:\b(?:it|test|describe)|\))\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1\s*,/g;
const TABLE_ROW_TITLE = /^\s*\[\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1\s*,/gm;
export function testTitles(source: string): string[] {
  return [...source.matchAll(TITLE), ...source.matchAll(TABLE_ROW_TITLE)].map(([, , title]) => title!.replace(/\\(['"`\\])/g, '$1'));
}

describe('test/PROMISES.md', () => {
  const rows = parsePromises(readFileSync(MAP, 'utf8'));
  const where = (row: PromiseRow) => `${MAP}:${row.line}`;

  it('lists the promises of every README it covers', () => {
    const readmes = new Set(rows.map((row) => row.readme));
    expect([...readmes].sort()).toEqual(['README.md', 'dispatcher/README.md', 'infra/runtime/README.md', 'infra/transport/README.md', 'producer/README.md', 'worker/README.md']);
    expect(rows.length).toBeGreaterThan(100);
  });

  it('quotes each promise word for word from the README it names', () => {
    const readmes = new Map<string, string>();
    const missing = rows.filter((row) => {
      if (!readmes.has(row.readme)) readmes.set(row.readme, existsSync(row.readme) ? normalized(readFileSync(row.readme, 'utf8')) : '');
      return !readmes.get(row.readme)!.includes(normalized(row.quote));
    });
    expect(missing.map((row) => `${where(row)}: "${row.quote}" is not in ${row.readme}`)).toEqual([]);
  });

  it('cites tests that exist, by a title their file still holds', () => {
    const titles = new Map<string, string[] | undefined>();
    const broken: string[] = [];
    for (const row of rows) {
      for (const proof of row.proofs) {
        if (!titles.has(proof.file)) titles.set(proof.file, existsSync(proof.file) ? testTitles(readFileSync(proof.file, 'utf8')) : undefined);
        const fileTitles = titles.get(proof.file);
        if (fileTitles === undefined) broken.push(`${where(row)}: ${proof.file} does not exist`);
        else if (!fileTitles.some((title) => title.includes(proof.title))) broken.push(`${where(row)}: ${proof.file} has no test titled "…${proof.title}…"`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('gives every promise a proof, or says that it is unproved and why', () => {
    const bare = rows.filter((row) => row.proofs.length === 0 && !row.unproved);
    expect(bare.map((row) => `${where(row)}: "${row.quote}" cites no test and is not marked **unproved**`)).toEqual([]);
  });

  it('reads rows and proofs as they are written', () => {
    const [row] = parsePromises('| "a *promise*" | README.md | `test/unit/a.test.ts` › "one"; `test/e2e/b.test.ts` › "two" *(partial)* |');
    expect(row).toMatchObject({ quote: 'a *promise*', readme: 'README.md', unproved: false, proofs: [{ file: 'test/unit/a.test.ts', title: 'one' }, { file: 'test/e2e/b.test.ts', title: 'two' }] });
    expect(parsePromises('| "p" | README.md | **unproved**: no test |')[0]).toMatchObject({ proofs: [], unproved: true });
  });

  it('reads test titles, and only titles', () => {
    const source = [
      "describe.each(EACH)('a suite (%s)', (t) => {",
      "  it('a test that isn\\'t skipped', async () => {",
      "    expect(run('not a title')).toBe(1); // it('not a test either')",
      "  it.each([",
      "    ['a row', 2],",
      "  ])('%s', (what, n) => {",
      '  test(`a template ${N} title`, () => {',
    ].join('\n');
    expect(testTitles(source)).toEqual(['a suite (%s)', "a test that isn't skipped", '%s', 'a template ${N} title', 'a row']);
  });
});
