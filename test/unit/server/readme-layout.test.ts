import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(ROOT, path)] : [];
  });
}

/** Rows "| `src/x/` | `a.ts`, `b.ts` | ... |" of README's Layout section, as src/x/a.ts, src/x/b.ts. */
function listedFiles(readme: string): string[] {
  const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('## Configuration'));
  return [...layout.matchAll(/^\| `(src\/[^`]*)` \| ([^|]+) \|/gm)].flatMap(([, folder, files]) =>
    [...(files as string).matchAll(/`([^`]+\.ts)`/g)].map(([, file]) => `${folder}${file}`),
  );
}

describe("README's Layout section", () => {
  it('lists every file of src/ once, and no file that does not exist', () => {
    const listed = listedFiles(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(sourceFiles(join(ROOT, 'src')).sort());
  });
});
