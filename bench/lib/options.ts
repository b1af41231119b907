import { parseArgs } from 'node:util';
import type { TargetKind } from './bench-client.ts';

export interface BenchOptions {
  quick: boolean;
  targets: TargetKind[];
  /** Offered rates (signals/s, whole cluster) stepped through in order. */
  rates: number[];
  pairs: number;
  workers: number;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  /** The p99 bound (ms) a rate must hold to count as sustained (issue 8: 20 ms). */
  p99BoundMs: number;
  /** A step whose p99 passes this (ms), or that loses more than 1%, ends the stepping. */
  explodeP99Ms: number;
  idleConnections: number;
  stormMembers: number;
  stormRooms: number;
  /** Which measurements run: rates, storm, idle, profile. */
  phases: Set<string>;
  profileSeconds: number;
  /** Given URLs replace the servers the bench would start (then their CPU and RSS are unknown). */
  redisUrl: string | undefined;
  dynoUrls: [string, string] | undefined;
  socketioUrls: [string, string] | undefined;
  /** Another build's src/main.ts: its rate steps run right after this build's, in the same run. */
  baseMain: string | undefined;
  out: string | undefined;
}

const USAGE = `npm run bench -- [options]
  --quick                 < 60 s: 3 rates, 2 s steps, 1,000 idle connections, a 400-member storm
  --targets LIST          signaling,socketio (default both)
  --rates LIST            offered signals/s per step (default 1000,2000,3000,5000,7500,10000,12500,15000,20000,25000,30000,40000)
  --pairs N               client pairs, each split across the two dynos (default 200)
  --workers N             load-generator processes (default 2)
  --seconds S             measured seconds per step, after 1 s of warm-up (default 5)
  --p99-bound MS          p99 a rate must hold to count as sustained (default 20)
  --idle-connections N    for RSS per idle joined connection (default 5000)
  --storm-members N --storm-rooms N   join storm size (default 2000 members in 200 rooms)
  --phases LIST           rates,storm,idle,profile (default all; --quick has no profile)
  --no-profile            skip the CPU profile of a dyno at the top sustained rate
  --redis-url URL         use this Redis instead of starting one (env BENCH_REDIS_URL)
  --dyno-urls U1,U2       use these two dynos' ws://.../signaling (env BENCH_DYNO_URLS)
  --socketio-urls U1,U2   use these two socket.io nodes (env BENCH_SOCKETIO_URLS)
  --base MAIN             also step another build's src/main.ts (a checkout of the code before a change),
                          right after this build's steps, and print both side by side
  --out FILE              result file (default bench/results/bench-<time>.json)`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      targets: { type: 'string' },
      rates: { type: 'string' },
      pairs: { type: 'string' },
      workers: { type: 'string' },
      seconds: { type: 'string' },
      'p99-bound': { type: 'string' },
      'idle-connections': { type: 'string' },
      'storm-members': { type: 'string' },
      'storm-rooms': { type: 'string' },
      phases: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      'redis-url': { type: 'string' },
      'dyno-urls': { type: 'string' },
      'socketio-urls': { type: 'string' },
      base: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const int = (raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${raw}\n${USAGE}`);
    return n;
  };
  const pair = (raw: string | undefined, name: string): [string, string] | undefined => {
    if (!raw) return undefined;
    const urls = raw.split(',').map((u) => u.trim());
    if (urls.length !== 2) throw new Error(`${name} needs exactly two URLs`);
    return [urls[0] as string, urls[1] as string];
  };
  const targets = (values.targets ?? 'signaling,socketio').split(',').map((t) => t.trim());
  for (const t of targets) if (t !== 'signaling' && t !== 'socketio') throw new Error(`unknown target ${t}\n${USAGE}`);
  const defaultRates = quick ? [1000, 5000, 10000] : [1000, 2000, 3000, 5000, 7500, 10000, 12500, 15000, 20000, 25000, 30000, 40000];
  return {
    quick,
    targets: targets as TargetKind[],
    rates: values.rates ? values.rates.split(',').map((r) => int(r, 0)) : defaultRates,
    pairs: int(values.pairs, quick ? 100 : 200),
    workers: int(values.workers, 2),
    warmupMs: quick ? 500 : 1000,
    measureMs: int(values.seconds, quick ? 2 : 5) * 1000,
    drainMs: 3000,
    p99BoundMs: int(values['p99-bound'], 20),
    explodeP99Ms: 1000,
    idleConnections: int(values['idle-connections'], quick ? 1000 : 5000),
    stormMembers: int(values['storm-members'], quick ? 400 : 2000),
    stormRooms: int(values['storm-rooms'], quick ? 40 : 200),
    phases: new Set(
      (values.phases ?? 'rates,storm,idle,profile')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== 'profile' || (!quick && values['no-profile'] !== true)),
    ),
    profileSeconds: 8,
    redisUrl: values['redis-url'] ?? env['BENCH_REDIS_URL'],
    dynoUrls: pair(values['dyno-urls'] ?? env['BENCH_DYNO_URLS'], '--dyno-urls'),
    socketioUrls: pair(values['socketio-urls'] ?? env['BENCH_SOCKETIO_URLS'], '--socketio-urls'),
    baseMain: values.base,
    out: values.out,
  };
}
