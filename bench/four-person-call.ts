/**
 * `node bench/four-person-call.ts [--rounds N] [--people 4] [--modes before,after] [--settle-ms MS] [--cpu-ms MS]`:
 * a fourth person (the N-th) joins a call of three (N-1), on two dynos sharing Redis, in real headless Chromium
 * (fake camera and microphone). For each mode it prints:
 *
 * - join-to-video: from the fourth page's invite link (page.goto) until every one of the
 *   four pages decodes video from every one of the three others;
 * - Chromium CPU (cores, summed over every Chromium process of the run) over a window
 *   with the four in the call, the mean inbound video width and frame rate, and CPU per
 *   frame delivered (on a saturated machine CPU alone stays flat: what changes is how many
 *   frames it buys).
 *
 * Modes: `before` is the page with `adaptive=0` (video sent as the browser picks, as before
 * issue 16), `after` the default (send-quality.ts lowers resolution, frame rate and bitrate
 * by room size). Rounds alternate before/after so both see the same machine load. Numbers,
 * not assertions: see docs/benchmarks.md, "Four-person call".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/fixtures/chromium.ts';
import { startCluster, type Cluster } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { sampleProcess } from './lib/proc-stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'settle-ms': { type: 'string', default: '3000' },
    'cpu-ms': { type: 'string', default: '10000' },
    // A call of N-1 that the N-th joins (default 4), and which modes to run.
    people: { type: 'string', default: '4' },
    modes: { type: 'string', default: 'before,after' },
  },
});
const ROUNDS = Number(values.rounds);
const SETTLE_MS = Number(values['settle-ms']);
const CPU_MS = Number(values['cpu-ms']);
const PROBES = new URL('../test/fixtures/call-page-probes.js', import.meta.url).pathname;
const PEOPLE = Number(values.people);
const MODES = values.modes.split(',') as Mode[];
const NAMES = Array.from({ length: PEOPLE }, (_, i) => `p${i + 1}`);
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Mode = 'before' | 'after';

interface Inbound {
  frames: number;
  width: number;
  fps: number;
}

/** Every Chromium process that descends from this one (the dynos and Redis are not Chromium). */
function chromiumPids(): number[] {
  const parent = new Map<number, number>();
  const chromium = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chromium')) chromium.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...chromium].filter(ours);
}

const cpuOf = (pids: number[]): number => pids.reduce((sum, pid) => sum + (sampleProcess(pid)?.cpuSeconds ?? 0), 0);

async function inbound(page: Page, peers: string[]): Promise<Record<string, Inbound | null>> {
  return await page.evaluate(async (names) => {
    const probe = (window as unknown as { __callProbe: { connectionFor(n: string): RTCPeerConnection | null } }).__callProbe;
    const out: Record<string, { frames: number; width: number; fps: number } | null> = {};
    for (const name of names) {
      const pc = probe.connectionFor(name);
      if (pc === null) {
        out[name] = null;
        continue;
      }
      let best: { frames: number; width: number; fps: number } | null = null;
      (await pc.getStats()).forEach((s: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number; framesPerSecond?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded ?? 0) > (best?.frames ?? -1)) {
          best = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, fps: s.framesPerSecond ?? 0 };
        }
      });
      out[name] = best;
    }
    return out;
  }, peers);
}

async function open(browser: Browser, origin: string, room: string, name: string, mode: Mode): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 640, height: 480 } });
  await context.addInitScript({ path: PROBES });
  const page = await context.newPage();
  await page.goto(`${origin}/?room=${room}&name=${name}${mode === 'before' ? '&adaptive=0' : ''}`);
  return page;
}

/** Waits until every page decodes video from every other page; returns when, or throws after 60 s. */
async function fullMesh(pages: Page[], names: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await Promise.all(pages.map((p, i) => inbound(p, names.filter((_, j) => j !== i))));
    if (rows.every((row) => Object.values(row).every((v) => v !== null && v.frames > 0))) return;
    if (Date.now() > deadline) throw new Error(`no full mesh within 60 s: ${JSON.stringify(rows)}`);
    await sleep(100);
  }
}

interface RoundResult {
  mode: Mode;
  joinMs: number;
  cores: number;
  width: number;
  fps: number;
  /** Chromium CPU milliseconds per video frame decoded (all N×(N-1) streams): cost per delivered frame. */
  cpuMsPerFrame: number;
}

async function round(cluster: Cluster, mode: Mode, index: number): Promise<RoundResult> {
  const browser = await launchChromium();
  const room = `bench4-${index}-${Date.now().toString(36)}`;
  try {
    const pages: Page[] = [];
    for (let i = 0; i < PEOPLE - 1; i++) pages.push(await open(browser, cluster.dyno(i).httpUrl, room, NAMES[i] as string, mode));
    await fullMesh(pages, NAMES.slice(0, PEOPLE - 1));
    await sleep(SETTLE_MS);
    const started = Date.now();
    pages.push(await open(browser, cluster.dyno(PEOPLE - 1).httpUrl, room, NAMES[PEOPLE - 1] as string, mode));
    await fullMesh(pages, NAMES);
    const joinMs = Date.now() - started;
    await sleep(2000);
    const pids = chromiumPids();
    const cpuStart = cpuOf(pids);
    const wallStart = performance.now();
    await sleep(CPU_MS);
    const cores = (cpuOf(pids) - cpuStart) / ((performance.now() - wallStart) / 1000);
    const rows = await Promise.all(pages.map((p, i) => inbound(p, NAMES.filter((_, j) => j !== i))));
    const all = rows.flatMap((row) => Object.values(row)).filter((v): v is Inbound => v !== null);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const fps = mean(all.map((v) => v.fps));
    return { mode, joinMs, cores, width: mean(all.map((v) => v.width)), fps, cpuMsPerFrame: (1000 * cores) / Math.max(0.1, fps * all.length) };
  } finally {
    await browser.close();
  }
}

const redis = await startRedis();
const cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('bench4') } });
const results: RoundResult[] = [];
try {
  say(`${PEOPLE}-person call, 2 dynos + Redis, headless Chromium; ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)} at start`);
  say('round  mode    join-to-video  Chromium CPU  inbound width  inbound fps  CPU per frame');
  for (let i = 0; i < ROUNDS * MODES.length; i++) {
    const mode = MODES[i % MODES.length] as Mode;
    let r: RoundResult;
    try {
      r = await round(cluster, mode, i);
    } catch (error) {
      // A machine too small for the call: say so and go on with the next round.
      say(`${String(i + 1).padEnd(6)} ${mode.padEnd(7)} failed: ${(error instanceof Error ? error.message : String(error)).slice(0, 300)}`);
      continue;
    }
    results.push(r);
    say(`${String(i + 1).padEnd(6)} ${mode.padEnd(7)} ${`${(r.joinMs / 1000).toFixed(2)} s`.padEnd(14)} ${`${r.cores.toFixed(2)} cores`.padEnd(13)} ${`${r.width.toFixed(0)} px`.padEnd(14)} ${r.fps.toFixed(1).padEnd(12)} ${r.cpuMsPerFrame.toFixed(1)} ms`);
  }
  for (const mode of MODES) {
    const mine = results.filter((r) => r.mode === mode);
    if (mine.length === 0) continue;
    const join = mine.map((r) => r.joinMs / 1000);
    const cores = mine.map((r) => r.cores);
    say(`${mode.padEnd(7)} join-to-video ${Math.min(...join).toFixed(2)}-${Math.max(...join).toFixed(2)} s, CPU ${Math.min(...cores).toFixed(2)}-${Math.max(...cores).toFixed(2)} cores`);
  }
  say(`load ${loadavg()[0]?.toFixed(2)} at end`);
} finally {
  await cluster.stop();
  await redis.stop();
}
