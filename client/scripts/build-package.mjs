// Builds the installable package into client/dist (what `npm pack` in client/ ships):
//   index.js (+ .map)   the library as one ES module, no dependencies, no DOM or Node
//                       globals touched at import (WebSocket and RTCPeerConnection are looked
//                       up when a client or call is created)
//   types/              declarations: client/src/*.d.ts and the wire types they use
//                       (protocol/wire.d.ts, the one definition the server compiles against)
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const client = fileURLToPath(new URL('..', import.meta.url));
const out = join(client, 'dist');
const require = createRequire(import.meta.url);

await rm(out, { recursive: true, force: true });
await build({
  entryPoints: [join(client, 'src/index.ts')],
  outfile: join(out, 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(client, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status}): declarations not built`);
// The sources import "./x.ts" (Node runs them as they are); declarations must say "./x.js",
// which a consumer's TypeScript maps to x.d.ts whatever its settings.
for (const entry of await readdir(join(out, 'types'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, '$1$2.js$3'));
}
// A declaration file is not emitted by tsc: ship it next to the declarations that import it.
await mkdir(join(out, 'types/protocol'), { recursive: true });
await copyFile(join(client, '../protocol/wire.d.ts'), join(out, 'types/protocol/wire.d.ts'));
console.log(`package built into ${out}`);
