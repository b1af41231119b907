import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_CLOSE_DEAD_LINK, CLOSE_DECISIONS, CLOSE_RANGES, closeDecision } from '../../../client/src/index.ts';
import { CloseCode } from '../../../src/protocol/error-codes.ts';

/**
 * The close-code table: protocol/wire.d.ts holds it, and the server's and the client's tables
 * are checked against it when they compile; what is left to check at run time is the prose
 * (docs/protocol.md) and where the codes lie.
 */

/** Rows of the markdown table that follows `heading`'s first table header starting with `| first |`. */
function tableRows(markdown: string, from: string, first: string): string[][] {
  const start = markdown.indexOf(from);
  const lines = markdown.slice(start).split('\n');
  const header = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const protocolMd = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

describe('close codes: one table', () => {
  it("docs/protocol.md lists every code of the table with the client's decision, and no other", () => {
    const rows = tableRows(protocolMd, '### Close codes', 'code');
    const documented = Object.fromEntries(rows.map(([code, , decision]) => [Number(code), (decision ?? '').split(' ')[0]]));
    expect(documented).toEqual(CLOSE_DECISIONS);
  });

  it('docs/protocol.md gives the ranges the client decides by', () => {
    const rows = tableRows(protocolMd, '### Close codes', 'range').filter(([range]) => /^\d+-\d+$/.test(range ?? ''));
    const documented = rows.map(([range, , decision]) => {
      const [from, to] = (range ?? '').split('-').map(Number);
      return { from, to, decision };
    });
    expect(documented).toEqual(CLOSE_RANGES.map(({ from, to, decision }) => ({ from, to, decision })));
    expect(closeDecision(2999)).toBe('reconnect'); // any other: unknown, reconnect
  });

  it("every code the server sends has the decision its table entry says, inside the server's ranges", () => {
    for (const code of Object.values(CloseCode)) {
      expect(CLOSE_DECISIONS[code], `decision for ${code}`).toBeDefined();
      if (code >= 4000) {
        const range = CLOSE_RANGES.find((r) => code >= r.from && code <= r.to);
        expect(range?.owner, `range of ${code}`).toBe('server');
        expect(closeDecision(code)).toBe(range?.decision);
      }
    }
  });

  it("the client's dead-link code lies in the client's own range, apart from every server code", () => {
    const range = CLOSE_RANGES.find((r) => CLIENT_CLOSE_DEAD_LINK >= r.from && CLIENT_CLOSE_DEAD_LINK <= r.to);
    expect(range?.owner).toBe('client');
    expect(Object.values(CloseCode) as number[]).not.toContain(CLIENT_CLOSE_DEAD_LINK);
    expect(CLOSE_DECISIONS).not.toHaveProperty(String(CLIENT_CLOSE_DEAD_LINK));
  });
});
