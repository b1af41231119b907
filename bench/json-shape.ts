/**
 * Micro-benchmark of the `signal.data` shape check (src/protocol/json-shape.ts) against what
 * every v1 signal already costs: JSON.parse of the frame and JSON.stringify of its data.
 * Prints nanoseconds per frame (median of 15 rounds) and the check's share of parseV1.
 * Usage: node bench/json-shape.ts
 */
import { MAX_JSON_DEPTH, shapeProblem } from '../src/protocol/json-shape.ts';
import { parseV1 } from '../src/protocol/parse-v1.ts';
import { SDP } from './lib/sdp.ts';

const offerSdp = SDP.repeat(4); // ~4 KB, a real two-track offer's size
const frames: Record<string, string> = {
  'offer (4 KB SDP)': JSON.stringify({
    type: 'signal',
    to: 'b',
    data: { session: 'k3j4h5', description: { type: 'offer', sdp: offerSdp } },
  }),
  'ICE candidate': JSON.stringify({
    type: 'signal',
    to: 'b',
    data: {
      session: 'k3j4h5',
      candidate: {
        candidate: 'candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 generation 0',
        sdpMid: '0',
        sdpMLineIndex: 0,
      },
    },
  }),
  'worst case: 30 KB of small numbers': JSON.stringify({
    type: 'signal',
    to: 'b',
    data: { v: Array.from({ length: 15_000 }, (_, i) => i % 10) },
  }),
  [`${MAX_JSON_DEPTH} levels deep (the limit)`]: `{"type":"signal","to":"b","data":${'{"d":'.repeat(MAX_JSON_DEPTH - 1)}{}${'}'.repeat(MAX_JSON_DEPTH - 1)}}`,
};

/** How many calls of `fn` last about 20 ms. */
function callsFor(fn: () => unknown): number {
  let calls = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    if (Number(process.hrtime.bigint() - t) > 20e6) return calls;
    calls *= 2;
  }
}

/**
 * Nanoseconds per call of each function, median of 15 rounds. The functions are timed in
 * turn within every round (side by side), so other work on the machine lands on all of
 * them alike instead of on whichever ran during a busy second.
 */
function nsPerCall(fns: Array<() => unknown>): number[] {
  const calls = fns.map(callsFor);
  const runs: number[][] = fns.map(() => []);
  for (let r = 0; r < 15; r++) {
    for (const [f, fn] of fns.entries()) {
      const n = calls[f] as number;
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      runs[f]?.push(Number(process.hrtime.bigint() - t) / n);
    }
  }
  return runs.map((r) => r.sort((a, b) => a - b)[7] as number);
}

let sink = 0;
const fmt = (ns: number): string => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`).padStart(9);
process.stdout.write(`Node ${process.version}; ns per frame, median of 15 rounds timed side by side\n`);
process.stdout.write(
  `${'frame'.padEnd(36)} ${'bytes'.padStart(6)} ${'JSON.parse'.padStart(10)} ${'shape check'.padStart(11)} ${'parseV1'.padStart(9)} ${'stringify data'.padStart(14)} ${'check/parseV1'.padStart(13)}\n`,
);
for (const [label, text] of Object.entries(frames)) {
  const parsed = JSON.parse(text) as { data: Record<string, unknown> };
  const [parse, check, full, stringify] = nsPerCall([
    () => (sink += (JSON.parse(text) as object) ? 1 : 0),
    () => (sink += shapeProblem(parsed.data, MAX_JSON_DEPTH, true) === null ? 1 : 0),
    () => (sink += parseV1(text).ok ? 1 : 0),
    () => (sink += JSON.stringify(parsed.data).length),
  ]) as [number, number, number, number];
  process.stdout.write(
    `${label.padEnd(36)} ${String(text.length).padStart(6)} ${fmt(parse)} ${fmt(check).padStart(11)} ${fmt(full)} ${fmt(stringify).padStart(14)} ${`${((100 * check) / full).toFixed(1)} %`.padStart(13)}\n`,
  );
}
if (sink === 0) process.stdout.write('\n');
