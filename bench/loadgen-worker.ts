/**
 * One load-generator process (forked by bench/run.ts). It owns both ends of its pairs, so a
 * signal's one-way latency is arrival minus send time on one clock. Sends are open loop:
 * signal n is due at startAt + n / rate whatever happened before (never held back waiting
 * for replies), so a slow server shows up as latency and loss, not as a politely slower
 * sender; how far the sends slipped behind that schedule is measured too (send lag).
 */
import type { BenchClient, ClientEvents, TargetKind } from './lib/bench-client.ts';
import { openClient } from './lib/bench-client.ts';
import type {
  StepCommand,
  StepReport,
  StormGoCommand,
  StormPrepareCommand,
  StormReport,
  WorkerCommand,
  WorkerReply,
} from './lib/worker-protocol.ts';

const now = (): number => performance.now();
const absolute = (t: number): number => performance.timeOrigin + t;
const local = (abs: number): number => abs - performance.timeOrigin;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Per-step receive state; swapped at each step so stragglers of the last one count as late. */
interface StepState {
  step: number;
  measureFrom: number;
  windowEnd: number;
  received: number;
  receivedInWindow: number;
  latencies: Float64Array;
  measured: number;
  late: number;
}

interface Member {
  client: BenchClient;
  room: string;
  name: string;
  joined: boolean;
  known: number;
  expected: number;
  completeAt: number;
}

let current: StepState | null = null;
let errors: Record<string, number> = {};
let closed = 0;
let pairs: Array<[BenchClient, BenchClient]> = [];
let members: Member[] = [];

function countError(code: string): void {
  errors[code] = (errors[code] ?? 0) + 1;
}

function onSignal(t: number, step: number): void {
  const s = current;
  const at = now();
  if (!s || s.step !== step) {
    if (s) s.late++;
    return;
  }
  s.received++;
  if (at >= s.measureFrom && at < s.windowEnd) s.receivedInWindow++;
  if (t >= s.measureFrom) {
    if (s.measured === s.latencies.length) {
      const grown = new Float64Array(s.latencies.length * 2);
      grown.set(s.latencies);
      s.latencies = grown;
    }
    s.latencies[s.measured++] = at - t;
  }
}

/** Opens clients with bounded concurrency: thousands of SYNs at once overflow the listen backlog. */
async function openAll<T>(count: number, open: (i: number) => Promise<T>, concurrency = 100): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await open(i);
    }
  });
  await Promise.all(lanes);
  return out;
}

function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  return new Promise((resolve) => {
    const check = (): void => {
      if (done()) resolve(true);
      else if (now() > deadline) resolve(false);
      else setTimeout(check, 10);
    };
    check();
  });
}

function memberEvents(member: () => Member | undefined): ClientEvents {
  return {
    joined: (peers) => {
      const m = member();
      if (!m) return;
      m.joined = true;
      m.known += peers;
      if (m.known >= m.expected && m.completeAt === 0) m.completeAt = now();
    },
    peerJoined: () => {
      const m = member();
      if (!m) return;
      m.known++;
      if (m.joined && m.known >= m.expected && m.completeAt === 0) m.completeAt = now();
    },
    signal: onSignal,
    error: countError,
    closed: () => closed++,
  };
}

async function openPairs(kind: TargetKind, urls: [string, string], roomPrefix: string, first: number, count: number): Promise<void> {
  const joinedFlags: boolean[] = [];
  const events = (slot: number): ClientEvents => ({ ...memberEvents(() => undefined), joined: () => (joinedFlags[slot] = true) });
  const opened = await openAll(count, async (i) => {
    const a = openClient(kind, urls[0], events(2 * i));
    const b = openClient(kind, urls[1], events(2 * i + 1));
    await Promise.all([a.open, b.open]);
    a.join(`${roomPrefix}${first + i}`, 'a');
    b.join(`${roomPrefix}${first + i}`, 'b');
    return [a, b] as [BenchClient, BenchClient];
  });
  pairs.push(...opened);
  const ok = await waitUntil(() => joinedFlags.filter(Boolean).length === 2 * count, 60_000);
  if (!ok) throw new Error(`only ${joinedFlags.filter(Boolean).length} of ${2 * count} clients joined (errors ${JSON.stringify(errors)})`);
}

async function runStep(c: StepCommand): Promise<StepReport> {
  const t0 = local(c.startAt);
  const total = Math.round((c.rate * (c.warmupMs + c.durationMs)) / 1000);
  const interval = 1000 / c.rate;
  const state: StepState = {
    step: c.step,
    measureFrom: t0 + c.warmupMs,
    windowEnd: t0 + c.warmupMs + c.durationMs,
    received: 0,
    receivedInWindow: 0,
    latencies: new Float64Array(Math.max(1024, Math.ceil((c.rate * c.durationMs) / 1000) + 1024)),
    measured: 0,
    late: 0,
  };
  current = state;
  errors = {};
  closed = 0;
  let sent = 0;
  let sendFailed = 0;
  const n = pairs.length;
  // How late each send left: if the generator itself falls behind, this shows it.
  const lags = new Float64Array(total);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const at = now();
      // Everything due by now goes out now, stamped with the time it was due.
      while (sent + sendFailed < total && t0 + (sent + sendFailed) * interval <= at) {
        const k = sent + sendFailed;
        // The payload carries the time the signal really left, so the latency is the
        // system's; the schedule's slip is reported apart, as the generator's lag.
        const sentAt = now();
        lags[k] = sentAt - (t0 + k * interval);
        const pair = pairs[k % n] as [BenchClient, BenchClient];
        // Each pair alternates direction, so both dynos send and receive alike.
        const forward = Math.floor(k / n) % 2 === 0;
        if ((forward ? pair[0] : pair[1]).signal(forward ? 'b' : 'a', sentAt, c.step, k)) sent++;
        else sendFailed++;
      }
      if (sent + sendFailed < total) setTimeout(tick, Math.max(0, t0 + (sent + sendFailed) * interval - now()));
      else resolve();
    };
    setTimeout(tick, Math.max(0, t0 - now()));
  });
  // Refused signals (an error frame each) are settled too: only the rest can still arrive.
  await waitUntil(() => state.received + Object.values(errors).reduce((a, b) => a + b, 0) >= sent, c.drainMs);
  return {
    sent,
    sendFailed,
    received: state.received,
    receivedInWindow: state.receivedInWindow,
    latencies: state.latencies.slice(0, state.measured),
    sendLags: lags.slice(Math.ceil(c.warmupMs / interval)),
    late: state.late,
    errors,
    closed,
  };
}

async function stormPrepare(c: StormPrepareCommand): Promise<void> {
  errors = {};
  members = await openAll(c.members.length, async (i) => {
    const spec = c.members[i] as StormPrepareCommand['members'][number];
    // The events read `member` once the socket answers, never before the next statement built it.
    const client = openClient(
      c.kind,
      c.urls[spec.dyno],
      memberEvents(() => member),
    );
    const member: Member = {
      client,
      room: spec.room,
      name: spec.name,
      joined: false,
      known: 0,
      expected: spec.expectedPeers,
      completeAt: 0,
    };
    await client.open;
    return member;
  });
}

async function stormGo(c: StormGoCommand): Promise<StormReport> {
  const wait = local(c.startAt) - now();
  if (wait > 0) await sleep(wait);
  const firstSend = absolute(now());
  // Every join goes out at once: a storm, not a queue.
  for (const m of members) m.client.join(m.room, m.name);
  await waitUntil(() => members.every((m) => m.completeAt > 0), c.timeoutMs);
  let last = 0;
  let completed = 0;
  for (const m of members) {
    if (m.completeAt === 0) continue;
    completed++;
    last = Math.max(last, m.completeAt);
  }
  return { firstSend, lastComplete: absolute(last), completed, incomplete: members.length - completed, errors };
}

async function closeAll(): Promise<void> {
  for (const [a, b] of pairs) {
    a.close();
    b.close();
  }
  for (const m of members) m.client.close();
  pairs = [];
  members = [];
  current = null;
  await sleep(200);
}

async function handle(c: WorkerCommand): Promise<WorkerReply> {
  const started = now();
  switch (c.cmd) {
    case 'pairs':
      await openPairs(c.kind, c.urls, c.roomPrefix, c.first, c.count);
      return { ok: true, cmd: 'pairs', ms: now() - started };
    case 'step':
      return { ok: true, cmd: 'step', report: await runStep(c) };
    case 'storm-prepare':
      await stormPrepare(c);
      return { ok: true, cmd: 'storm-prepare', ms: now() - started };
    case 'storm-go':
      return { ok: true, cmd: 'storm-go', report: await stormGo(c) };
    case 'close':
      await closeAll();
      return { ok: true, cmd: 'close', ms: now() - started };
  }
}

process.on('message', (command: WorkerCommand) => {
  handle(command)
    .then((reply) => process.send?.(reply))
    .catch((error: unknown) =>
      process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply),
    );
});
process.on('disconnect', () => process.exit(0));
