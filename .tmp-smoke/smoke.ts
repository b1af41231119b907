import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";
import { FakeSignalingServer } from "/work/main/test/unit/client/fake-signaling-server.ts";
import { CHROMIUM_ARGS } from "/work/main/test/fixtures/chromium.ts";

const types: Record<string, string> = { html: "text/html", js: "text/javascript", css: "text/css", map: "application/json" };
const http = createServer(async (req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  const file = path === "/" ? "index.html" : path.slice(1);
  try {
    const body = await readFile(`/work/main/dist/public/${file}`);
    res.writeHead(200, { "content-type": types[file.split(".").pop() ?? ""] ?? "application/octet-stream" });
    res.end(body);
  } catch { res.writeHead(404); res.end(); }
});
await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
const port = (http.address() as { port: number }).port;
const fake = await FakeSignalingServer.start({ server: http, resume: true });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...CHROMIUM_ARGS], headless: true });
const ctx = await browser.newContext();
const pages = [];
for (const name of ["alice", "bob", "carol"]) {
  const page = await ctx.newPage();
  page.on("console", (m) => console.log(name, m.type(), m.text()));
  page.on("pageerror", (e) => console.log(name, "PAGEERROR", e.message));
  await page.goto(`http://127.0.0.1:${port}/?room=r1&name=${name}`);
  pages.push(page);
}
const decoded = async (page: any, peer: string) => page.evaluate(async (peer: string) => {
  const v = document.querySelector(`[data-peer="${peer}"] video`) as HTMLVideoElement | null;
  return v ? (v as any).getVideoPlaybackQuality?.().totalVideoFrames ?? -1 : -2;
}, peer);
await new Promise((r) => setTimeout(r, 4000));
for (const [i, page] of pages.entries()) {
  const state = await page.getAttribute("#app", "data-signaling");
  const tiles = await page.$$eval("[data-peer]", (els) => els.map((e) => `${(e as HTMLElement).dataset.peer}:${(e as HTMLElement).dataset.connection}`));
  const others = ["alice", "bob", "carol"].filter((_, j) => j !== i);
  console.log(i, state, tiles, await Promise.all(others.map((p) => decoded(page, p))));
}
await pages[2]!.click("#leave");
const t0 = Date.now();
await pages[0]!.waitForSelector('[data-peer="carol"]', { state: "detached", timeout: 2000 });
console.log("carol tile gone after", Date.now() - t0, "ms");
// Drain: close all sockets with 1012: clients should resume and keep video.
fake.closeAll(1012);
await new Promise((r) => setTimeout(r, 2500));
for (const page of pages.slice(0, 2)) console.log(await page.getAttribute("#app", "data-signaling"), await page.$$eval("[data-peer]", (els) => els.map((e) => `${(e as HTMLElement).dataset.peer}:${(e as HTMLElement).dataset.connection}`)));
console.log("alice frames from bob", await decoded(pages[0], "bob"));
await page_screenshot();
async function page_screenshot() { await pages[0]!.screenshot({ path: "/tmp/smoke/alice.png" }); }
await browser.close();
await fake.stop();
http.close();
