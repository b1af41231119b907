// Builds the client library as an installable npm package into client/dist/ (ES modules,
// .d.ts with maps): `npm run build` runs it, and so does `npm pack` in client/ (prepack).
// tsc rewrites `.ts` specifiers to `.js` in the JavaScript; declarations keep them, so they
// are rewritten here, or a consumer's TypeScript would look for .ts files the package lacks.
import { execFileSync } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}client/dist`;
// The typescript package does not export its bin: find it from its package.json.
const tsc = new URL("bin/tsc", `file://${createRequire(`${root}package.json`).resolve("typescript/package.json")}`).pathname;

await rm(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", `${root}client/tsconfig.package.json`], { stdio: "inherit" });

let rewritten = 0;
for (const file of await readdir(dist)) {
  if (!file.endsWith(".d.ts")) continue;
  const path = `${dist}/${file}`;
  const text = await readFile(path, "utf8");
  const fixed = text.replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, (_m, lead, quote, spec) => `${lead}${quote}${spec}.js${quote}`);
  if (fixed !== text) {
    rewritten++;
    await writeFile(path, fixed);
  }
}
console.log(`client package built into ${dist} (${rewritten} declaration files re-pointed at .js)`);
