/**
 * Relay latency and rate across two dynos for each protocol the cluster speaks, side by side
 * in one run on the same dynos and Redis: protocol v1 `signal`, PeerJS `CANDIDATE` (relayed
 * to the id's member channel) and y-webrtc `publish` (one PUBLISH on the topic channel, both
 * ends subscribed as the real client is). Senders on dyno 0, receivers on dyno 1; each
 * message carries its send time (one clock: this process). Interleaved per step, so load
 * drift hits all three alike; the order rotates per rate, and a step's backlog drains before
 * the next starts.
 * Usage: node bench/third-party.ts [rates, default 1000,4000] [pairs, default 50] [seconds per step, default 5]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { startDyno } from '../test/fixtures/dyno.ts';
import { startRedis } from '../test/fixtures/redis.ts';
import { summarize } from './lib/percentiles.ts';

const rates = (process.argv[2] ?? '1000,4000').split(',').map(Number);
const pairs = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 5);
const PAD = 'x'.repeat(900);
const ENV = {
  LOG_LEVEL: 'info',
  RATE_LIMIT_PER_SEC: '100000',
  RATE_LIMIT_BURST: '100000',
  RATE_LIMIT_BYTES_PER_SEC: '100000000',
  RATE_LIMIT_BYTES_BURST: '100000000',
  MAX_JOINS_PER_SEC: '100000',
};

type Protocol = 'v1' | 'peerjs' | 'ywebrtc';
interface Pair {
  send(t: number): void;
}

const open = (url: string): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
const firstMessage = (ws: WebSocket): Promise<Record<string, unknown>> =>
  new Promise((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString('utf8')) as Record<string, unknown>)));

/** Received latencies (ms) of the current step; the receivers push into it. */
let latencies: number[] = [];
const record = (t: unknown): void => void (typeof t === 'number' && latencies.push(performance.now() - t));

async function openPair(protocol: Protocol, base: [string, string], i: number): Promise<Pair> {
  const tag = `${protocol}-${i}-${Date.now().toString(36)}`;
  if (protocol === 'v1') {
    const [a, b] = await Promise.all([open(`${base[0]}/signaling`), open(`${base[1]}/signaling`)]);
    for (const [ws, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const reply = firstMessage(ws);
      ws.send(JSON.stringify({ type: 'join', room: tag, name }));
      await reply;
    }
    b.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as { type: string; data?: { t?: number } };
      if (m.type === 'signal') record(m.data?.t);
    });
    return { send: (t) => a.send(JSON.stringify({ type: 'signal', to: 'b', data: { t, pad: PAD } })) };
  }
  if (protocol === 'peerjs') {
    const url = (n: string, k: number): string => `${base[k]}/peerjs?key=peerjs&id=${tag}${n}&token=t`;
    const [a, b] = await Promise.all([open(url('a', 0)), open(url('b', 1))]);
    await Promise.all([firstMessage(a), firstMessage(b)]);
    b.on('message', (d: Buffer) => record((JSON.parse(d.toString('utf8')) as { payload?: { t?: number } }).payload?.t));
    // As the real client: a HEARTBEAT every 5 s, or PEERJS_ALIVE_TIMEOUT_MS closes the silent receiver.
    setInterval(() => b.send('{"type":"HEARTBEAT"}'), 5000).unref();
    return { send: (t) => a.send(JSON.stringify({ type: 'CANDIDATE', dst: `${tag}b`, payload: { t, pad: PAD } })) };
  }
  const [a, b] = await Promise.all([open(`${base[0]}/y-webrtc`), open(`${base[1]}/y-webrtc`)]);
  for (const ws of [a, b]) {
    ws.send(JSON.stringify({ type: 'subscribe', topics: [tag] }));
    const pong = firstMessage(ws);
    ws.send(JSON.stringify({ type: 'ping' }));
    await pong;
  }
  b.on('message', (d: Buffer) => record((JSON.parse(d.toString('utf8')) as { data?: { t?: number } }).data?.t));
  return { send: (t) => a.send(JSON.stringify({ type: 'publish', topic: tag, data: { t, pad: PAD } })) };
}

/** Sends `rate` messages a second spread over the pairs for `seconds`; returns what arrived. */
async function step(list: Pair[], rate: number): Promise<{ sent: number; got: number; p50: number; p99: number; perSecond: number }> {
  latencies = [];
  let sent = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const tick = 5;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) list[sent++ % list.length]?.send(performance.now());
    await new Promise((resolve) => setTimeout(resolve, tick));
  }
  const elapsed = (performance.now() - started) / 1000;
  // Stragglers: wait up to a second after the last send; what comes later counts as lost.
  const deadline = performance.now() + 1000;
  while (latencies.length < sent && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const got = latencies.length;
  const summary = summarize(Float64Array.from(latencies));
  // Let a backlog drain (up to 10 s) so it does not spill into the next protocol's step.
  const drained = performance.now() + 10_000;
  while (latencies.length < sent && performance.now() < drained) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { sent, got, p50: summary.p50, p99: summary.p99, perSecond: Math.round(got / elapsed) };
}

const redis = await startRedis();
const dynos = await Promise.all([
  startDyno({ env: { ...ENV, REDIS_URL: redis.url } }),
  startDyno({ env: { ...ENV, REDIS_URL: redis.url } }),
]);
const base: [string, string] = [dynos[0].wsUrl(''), dynos[1].wsUrl('')];
const protocols: Protocol[] = ['v1', 'peerjs', 'ywebrtc'];
const opened = new Map<Protocol, Pair[]>();
for (const protocol of protocols)
  opened.set(protocol, await Promise.all(Array.from({ length: pairs }, (_, i) => openPair(protocol, base, i))));
console.log(
  `${pairs} pairs per protocol, sender on dyno 0, receiver on dyno 1, ~1 KB messages, ${seconds} s per step; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| protocol | offered/s | delivered/s | delivered | p50 ms | p99 ms |\n|---|---|---|---|---|---|');
for (const [i, rate] of rates.entries()) {
  // Rotated per rate, so no protocol always runs right after another's step.
  for (const protocol of [...protocols.slice(i % 3), ...protocols.slice(0, i % 3)]) {
    const r = await step(opened.get(protocol) ?? [], rate);
    console.log(`| ${protocol} | ${rate} | ${r.perSecond} | ${r.got}/${r.sent} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
  }
}
console.log(
  `load at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
await Promise.all(dynos.map((d) => d.stop()));
await redis.stop();
process.exit(0);
