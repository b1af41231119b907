// Builds the browser side into dist/public/, which the server serves at `/`:
//   main.js (+ .map)              the video chat page, bundled and minified
//   index.html, styles.css        copied as they are
//   signaling-client.js (+ .map)  the client library as one ES module, for other pages
// Type checking is not esbuild's job: `npx tsc -p client/tsconfig.json` does it.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/public`;

// Start clean so files removed from client/page do not linger in what is served.
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

await Promise.all([
  // PAGE_MINIFY=0: readable names, for a CPU profile of the page (bench/four-person-call.ts --profile).
  build({ ...common, entryPoints: [`${root}client/page/main.ts`], outfile: `${out}/main.js`, minify: process.env.PAGE_MINIFY !== '0' }),
  // Readable rather than minified: other developers step through it in devtools.
  build({ ...common, entryPoints: [`${root}client/src/index.ts`], outfile: `${out}/signaling-client.js` }),
  copyFile(`${root}client/page/index.html`, `${out}/index.html`),
  copyFile(`${root}client/page/styles.css`, `${out}/styles.css`),
]);

console.log(`client built into ${out}`);
