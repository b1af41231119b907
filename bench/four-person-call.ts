/**
 * `node bench/four-person-call.ts [--rounds N] [--people 4] [--modes after,article] [--settle-ms MS] [--cpu-ms MS] [--profile FILE] [--profile-call FILE]`:
 * a fourth person (the N-th) joins a call of three (N-1), on two dynos sharing Redis, in real headless Chromium
 * (fake camera and microphone). For each mode it prints:
 *
 * - join-to-video: from the fourth page's invite link (page.goto) until every one of the
 *   four pages decodes video from every one of the three others;
 * - setup CPU: the fourth page's renderer process CPU time (Chrome's ProcessTime: its script,
 *   style, layout, and WebRTC's encoders and decoders) per second of that setup, with its main
 *   thread's share (ThreadTime) and the script and style+layout time in it;
 * - page CPU: each page's renderer CPU per second with the four in the call (main thread's in
 *   brackets), averaged over the pages;
 * - Chromium CPU (cores, summed over every Chromium process of the run) over a window
 *   with the four in the call, the mean inbound video width and frame rate, and CPU per
 *   frame delivered (on a saturated machine CPU alone stays flat: what changes is how many
 *   frames it buys).
 *
 * Modes: `after` (alias `page`) is the video chat page as served; `before` the page with
 * `adaptive=0` (video sent as the browser picks, as before send-quality.ts); `article` the
 * original article's client, unmodified (test/browser/article-page), each page served from
 * its dyno's origin as that client needs, showing the others' video as an app built on it
 * would (the article leaves that out). Rounds alternate between the modes so all see the
 * same machine load; the summary gives medians per mode and the page-to-article ratios.
 * `--profile FILE` writes a V8 CPU profile of the fourth page during its setup (first page
 * round) to FILE and prints its heaviest functions; `--profile-call FILE` the same for the fourth
 * page over the in-call CPU window (first page round): what the page does per second once the call is up. Numbers, not assertions: see
 * docs/benchmarks.md, "Four-person call".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { type Front, startFront } from '../test/fixtures/article-front.ts';
import { launchChromium } from '../test/fixtures/chromium.ts';
import { startCluster, type Cluster } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { summarizeProfile } from './lib/cpu-profile.ts';
import { sampleProcess } from './lib/proc-stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'settle-ms': { type: 'string', default: '3000' },
    'cpu-ms': { type: 'string', default: '10000' },
    // A call of N-1 that the N-th joins (default 4), and which modes to run.
    people: { type: 'string', default: '4' },
    modes: { type: 'string', default: 'after,article' },
    profile: { type: 'string' },
    'profile-call': { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SETTLE_MS = Number(values['settle-ms']);
const CPU_MS = Number(values['cpu-ms']);
const PROBES = new URL('../test/fixtures/call-page-probes.js', import.meta.url).pathname;
const PEOPLE = Number(values.people);
const MODES = values.modes.split(',').map((m) => (m === 'page' ? 'after' : m)) as Mode[];
const PROFILE = values.profile;
const PROFILE_CALL = values['profile-call'];
const NAMES = Array.from({ length: PEOPLE }, (_, i) => `p${i + 1}`);
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Mode = 'before' | 'after' | 'article';

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

/**
 * The article leaves showing the others' video to the reader (its ontrack is an empty
 * comment, "video要素を作って写す処理"): do what an app built on it would, so both clients
 * decode and show the same videos. One <video> per remote stream, four to a 640x480 window
 * as the page shows them; the article's own code is untouched.
 */
const ARTICLE_SHOWS_VIDEO = `(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('track', (event) => {
        const stream = event.streams[0];
        if (!stream || document.querySelector('[data-stream="' + stream.id + '"]')) return;
        const video = Object.assign(document.createElement('video'), { autoplay: true, muted: true, playsInline: true, srcObject: stream });
        video.dataset.stream = stream.id;
        video.style.cssText = 'width: 50%; height: 240px; object-fit: cover; float: left; background: #000';
        document.body.append(video);
      });
    }
  };
  addEventListener('DOMContentLoaded', () => {
    document.body.style.margin = '0';
    const self = document.getElementById('video-self');
    if (self) self.style.cssText = 'width: 50%; height: 240px; object-fit: cover; float: left; transform: scaleX(-1)';
  });
})();`;

/** Inbound video of one page, per other person: the page's probe, or the article's recorded connections. */
async function inbound(page: Page, peers: string[], mode: Mode): Promise<Array<Inbound | null>> {
  if (mode === 'article') {
    // The article names no peer on its connections: one connection per other page, in any order.
    const rows = await page.evaluate(async () => {
      const pcs = (window as unknown as { articlePeers?: RTCPeerConnection[] }).articlePeers ?? [];
      return await Promise.all(
        pcs
          .filter((pc) => pc.signalingState !== 'closed')
          .map(async (pc) => {
            let best: { frames: number; width: number; fps: number } | null = null;
            (await pc.getStats()).forEach(
              (s: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number; framesPerSecond?: number }) => {
                if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded ?? 0) > (best?.frames ?? -1)) {
                  best = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, fps: s.framesPerSecond ?? 0 };
                }
              },
            );
            return best;
          }),
      );
    });
    return peers.map((_, i) => rows[i] ?? null);
  }
  return await page.evaluate(async (names) => {
    const probe = (window as unknown as { __callProbe: { connectionFor(n: string): RTCPeerConnection | null } }).__callProbe;
    const out: Array<{ frames: number; width: number; fps: number } | null> = [];
    for (const name of names) {
      const pc = probe.connectionFor(name);
      if (pc === null) {
        out.push(null);
        continue;
      }
      let best: { frames: number; width: number; fps: number } | null = null;
      (await pc.getStats()).forEach(
        (s: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number; framesPerSecond?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded ?? 0) > (best?.frames ?? -1)) {
            best = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, fps: s.framesPerSecond ?? 0 };
          }
        },
      );
      out.push(best);
    }
    return out;
  }, peers);
}

interface OpenPage {
  page: Page;
  cdp: CDPSession;
}

interface CpuSoFar {
  /** CPU seconds of the page's renderer process (ProcessTime: every thread, WebRTC's included). */
  process: number;
  /** CPU seconds of its main thread (ThreadTime). */
  thread: number;
  /** Seconds of script, and of style recalculation plus layout, on the main thread. */
  script: number;
  styleLayout: number;
}

async function cpuSoFar(cdp: CDPSession): Promise<CpuSoFar> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const get = (name: string): number => metrics.find((m) => m.name === name)?.value ?? 0;
  return {
    process: get('ProcessTime'),
    thread: get('ThreadTime'),
    script: get('ScriptDuration'),
    styleLayout: get('RecalcStyleDuration') + get('LayoutDuration'),
  };
}

/** Opens `name`'s invite link; `beforeGoto` runs on the page's CDP session first (a profiler start). */
async function open(
  browser: Browser,
  origin: string,
  room: string,
  name: string,
  mode: Mode,
  beforeGoto?: (cdp: CDPSession) => Promise<void>,
): Promise<OpenPage & { started: number }> {
  const context = await browser.newContext({ viewport: { width: 640, height: 480 } });
  if (mode !== 'article') await context.addInitScript({ path: PROBES });
  else await context.addInitScript({ content: ARTICLE_SHOWS_VIDEO });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await beforeGoto?.(cdp);
  const started = Date.now();
  await page.goto(`${origin}/?room=${room}&name=${name}${mode === 'before' ? '&adaptive=0' : ''}`);
  if (mode === 'article') {
    // The article's client opens the room once the camera is there: wait, so pages join in order.
    await page.waitForFunction(() => (window as unknown as { articleSelfStreamId?: string }).articleSelfStreamId !== undefined, undefined, {
      timeout: 15_000,
    });
  }
  return { page, cdp, started };
}

/** Waits until every page decodes video from every other page; returns when, or throws after 60 s. */
async function fullMesh(pages: Page[], names: string[], mode: Mode): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await Promise.all(
      pages.map((p, i) =>
        inbound(
          p,
          names.filter((_, j) => j !== i),
          mode,
        ),
      ),
    );
    if (rows.every((row) => row.every((v) => v !== null && v.frames > 0))) return;
    if (Date.now() > deadline) throw new Error(`no full mesh within 60 s: ${JSON.stringify(rows)}`);
    await sleep(100);
  }
}

interface RoundResult {
  mode: Mode;
  joinMs: number;
  /** The joining page's renderer CPU per second of its setup (cores), and its main thread's. */
  setupCpu: number;
  /** The same in CPU seconds over the whole setup: a faster setup may burn more per second and less in all. */
  setupCpuTotal: number;
  setupMain: number;
  /** Of the setup's main-thread time: seconds of script, and of style and layout. */
  setupScript: number;
  setupStyleLayout: number;
  /** Each page's renderer CPU per second in the call, averaged (cores), and its main thread's. */
  pageCpu: number;
  pageMain: number;
  cores: number;
  width: number;
  fps: number;
  /** Chromium CPU milliseconds per video frame decoded (all N×(N-1) streams): cost per delivered frame. */
  cpuMsPerFrame: number;
}

let profiled = false;
let callProfiled = false;

async function round(cluster: Cluster, fronts: Front[], mode: Mode, index: number): Promise<RoundResult> {
  const browser = await launchChromium();
  const room = `bench4-${index}-${Date.now().toString(36)}`;
  const origin = (i: number): string => (mode === 'article' ? (fronts[i % fronts.length] as Front).origin : cluster.dyno(i).httpUrl);
  try {
    const opened: OpenPage[] = [];
    for (let i = 0; i < PEOPLE - 1; i++) opened.push(await open(browser, origin(i), room, NAMES[i] as string, mode));
    await fullMesh(
      opened.map((o) => o.page),
      NAMES.slice(0, PEOPLE - 1),
      mode,
    );
    await sleep(SETTLE_MS);
    const profile = PROFILE !== undefined && mode !== 'article' && !profiled;
    const joiner = await open(browser, origin(PEOPLE - 1), room, NAMES[PEOPLE - 1] as string, mode, async (cdp) => {
      if (!profile) return;
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    });
    opened.push(joiner);
    const pages = opened.map((o) => o.page);
    await fullMesh(pages, NAMES, mode);
    const joinMs = Date.now() - joiner.started;
    const setup = await cpuSoFar(joiner.cdp);
    const setupSeconds = (Date.now() - joiner.started) / 1000;
    if (profile) {
      profiled = true;
      const { profile: cpuProfile } = (await joiner.cdp.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(PROFILE, JSON.stringify(cpuProfile));
      const summary = summarizeProfile(PROFILE, 12);
      say(
        `profile of ${NAMES[PEOPLE - 1]}'s setup (${mode}, ${(joinMs / 1000).toFixed(2)} s) in ${PROFILE}: busy ${summary.busyPercent} % of wall time; self time:`,
      );
      for (const f of summary.topFrames) say(`  ${String(f.percent).padStart(5)} %  ${f.frame}`);
    }
    await sleep(2000);
    const profileCall = PROFILE_CALL !== undefined && mode !== 'article' && !callProfiled;
    if (profileCall) {
      callProfiled = true;
      await joiner.cdp.send('Profiler.enable');
      await joiner.cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await joiner.cdp.send('Profiler.start');
    }
    const pids = chromiumPids();
    const cpuStart = cpuOf(pids);
    const before = await Promise.all(opened.map((o) => cpuSoFar(o.cdp)));
    const wallStart = performance.now();
    await sleep(CPU_MS);
    const seconds = (performance.now() - wallStart) / 1000;
    const cores = (cpuOf(pids) - cpuStart) / seconds;
    const after = await Promise.all(opened.map((o) => cpuSoFar(o.cdp)));
    if (profileCall && PROFILE_CALL !== undefined) {
      const { profile: cpuProfile } = (await joiner.cdp.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(PROFILE_CALL, JSON.stringify(cpuProfile));
      const summary = summarizeProfile(PROFILE_CALL, 20);
      say(
        `profile of ${NAMES[PEOPLE - 1]} in the call (${mode}, ${seconds.toFixed(1)} s) in ${PROFILE_CALL}: busy ${summary.busyPercent} % of wall time; self time:`,
      );
      for (const f of summary.topFrames) say(`  ${String(f.percent).padStart(5)} %  ${f.frame}`);
    }
    const perPage = (key: 'process' | 'thread'): number =>
      after.reduce((sum, t, i) => sum + t[key] - (before[i]?.[key] ?? 0), 0) / opened.length / seconds;
    const rows = await Promise.all(
      pages.map((p, i) =>
        inbound(
          p,
          NAMES.filter((_, j) => j !== i),
          mode,
        ),
      ),
    );
    const all = rows.flat().filter((v): v is Inbound => v !== null);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const fps = mean(all.map((v) => v.fps));
    return {
      mode,
      joinMs,
      setupCpu: setup.process / setupSeconds,
      setupCpuTotal: setup.process,
      setupMain: setup.thread / setupSeconds,
      setupScript: setup.script,
      setupStyleLayout: setup.styleLayout,
      pageCpu: perPage('process'),
      pageMain: perPage('thread'),
      cores,
      width: mean(all.map((v) => v.width)),
      fps,
      cpuMsPerFrame: (1000 * cores) / Math.max(0.1, fps * all.length),
    };
  } finally {
    await browser.close();
  }
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const redis = await startRedis();
const cluster = await startCluster('redis', { redisUrl: redis.url, env: { REDIS_PREFIX: uniquePrefix('bench4') } });
const fronts = MODES.includes('article') ? await Promise.all(cluster.dynos.map((d) => startFront(d.port))) : [];
const results: RoundResult[] = [];
try {
  say(
    `${PEOPLE}-person call, 2 dynos + Redis, headless Chromium; ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)} at start`,
  );
  say(
    'round  mode     join-to-video  setup CPU: renderer per s, in all (main thread; script, style+layout)  page CPU: renderer (main)  Chromium CPU  inbound width  inbound fps  CPU per frame',
  );
  for (let i = 0; i < ROUNDS * MODES.length; i++) {
    const mode = MODES[i % MODES.length] as Mode;
    let r: RoundResult;
    try {
      r = await round(cluster, fronts, mode, i);
    } catch (error) {
      // A machine too small for the call: say so and go on with the next round.
      say(`${String(i + 1).padEnd(6)} ${mode.padEnd(8)} failed: ${(error instanceof Error ? error.message : String(error)).slice(0, 300)}`);
      continue;
    }
    results.push(r);
    const setup = `${r.setupCpu.toFixed(2)}, ${r.setupCpuTotal.toFixed(2)} s (${r.setupMain.toFixed(2)}; ${(r.setupScript * 1000).toFixed(0)} ms, ${(r.setupStyleLayout * 1000).toFixed(0)} ms)`;
    say(
      `${String(i + 1).padEnd(6)} ${mode.padEnd(8)} ${`${(r.joinMs / 1000).toFixed(2)} s`.padEnd(14)} ${setup.padEnd(72)} ${`${r.pageCpu.toFixed(2)} (${r.pageMain.toFixed(2)})`.padEnd(26)} ${`${r.cores.toFixed(2)} cores`.padEnd(13)} ${`${r.width.toFixed(0)} px`.padEnd(14)} ${r.fps.toFixed(1).padEnd(12)} ${r.cpuMsPerFrame.toFixed(1)} ms`,
    );
  }
  type Medians = Record<'join' | 'setup' | 'setupTotal' | 'setupMain' | 'page' | 'pageMain', number>;
  const medians = new Map<Mode, Medians>();
  for (const mode of MODES) {
    const mine = results.filter((r) => r.mode === mode);
    if (mine.length === 0) continue;
    const m: Medians = {
      join: median(mine.map((r) => r.joinMs / 1000)),
      setup: median(mine.map((r) => r.setupCpu)),
      setupTotal: median(mine.map((r) => r.setupCpuTotal)),
      setupMain: median(mine.map((r) => r.setupMain)),
      page: median(mine.map((r) => r.pageCpu)),
      pageMain: median(mine.map((r) => r.pageMain)),
    };
    medians.set(mode, m);
    const cores = mine.map((r) => r.cores);
    say(
      `${mode.padEnd(8)} medians of ${mine.length}: join-to-video ${m.join.toFixed(2)} s, setup CPU ${m.setup.toFixed(2)} cores (main thread ${m.setupMain.toFixed(2)}), ${m.setupTotal.toFixed(2)} CPU s in all, page CPU in the call ${m.page.toFixed(3)} cores (main thread ${m.pageMain.toFixed(3)}); Chromium ${Math.min(...cores).toFixed(2)}-${Math.max(...cores).toFixed(2)} cores`,
    );
  }
  const page = medians.get('after');
  const article = medians.get('article');
  if (page !== undefined && article !== undefined) {
    const ratio = (key: keyof Medians): string => (page[key] / article[key]).toFixed(2);
    say(
      `page / article (medians; below 1: the page is faster or lighter): join-to-video ${ratio('join')}, setup CPU per second ${ratio('setup')} (main thread ${ratio('setupMain')}), in all ${ratio('setupTotal')}, page CPU in the call ${ratio('page')} (main thread ${ratio('pageMain')})`,
    );
  }
  // Rounds alternate, so each page round has an article round beside it under much the same load.
  const pairs: Array<[RoundResult, RoundResult]> = [];
  for (const r of results) {
    const other = results.find(
      (o) =>
        o.mode === 'article' &&
        r.mode === 'after' &&
        Math.abs(results.indexOf(o) - results.indexOf(r)) === 1 &&
        !pairs.some(([, a]) => a === o),
    );
    if (other !== undefined) pairs.push([r, other]);
  }
  if (pairs.length > 0) {
    const count = (better: (p: RoundResult, a: RoundResult) => boolean): number => pairs.filter(([p, a]) => better(p, a)).length;
    say(
      `side by side (${pairs.length} pairs of neighbouring rounds): the page joined sooner in ${count((p, a) => p.joinMs < a.joinMs)}, used less renderer CPU in the call in ${count((p, a) => p.pageCpu < a.pageCpu)}, less Chromium CPU per frame in ${count((p, a) => p.cpuMsPerFrame < a.cpuMsPerFrame)}`,
    );
  }
  say(`load ${loadavg()[0]?.toFixed(2)} at end`);
} finally {
  await Promise.all(fronts.map((f) => f.close()));
  await cluster.stop();
  await redis.stop();
}
