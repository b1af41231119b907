/**
 * What a dead or slow webhook receiver costs a dyno: two dynos on one Redis, 40 rooms whose
 * members leave and rejoin over and over (a steady stream of webhook events), and one pair
 * timing signal round trips across the two dynos. Runs side by side: webhooks off, a receiver
 * answering 204, one answering 500 to everything (default backoff, then retrying every 50 to
 * 200 ms), and one that never answers (every POST runs into WEBHOOK_TIMEOUT_MS). Prints the round-trip median / p99 and each dyno's RSS.
 * Usage: node bench/webhooks-dead-receiver.ts [seconds per run, default 15] [quick: off and 204 only]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { startDyno } from '../test/fixtures/dyno.ts';
import type { Dyno } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { TestClient } from '../test/fixtures/test-client.ts';

const seconds = Number(process.argv[2] ?? '15');
const ROOMS = 40;
/** Each room's mover leaves and rejoins this often: 40 rooms x 2 events / 0.5 s = 160 events/s. */
const PACE_MS = 500;

function rssMb(d: Dyno): number {
  const status = readFileSync(`/proc/${d.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

function cpuSeconds(d: Dyno): number {
  const fields = readFileSync(`/proc/${d.process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

async function joined(d: Dyno, room: string, name: string): Promise<TestClient> {
  const c = await TestClient.connect(d.wsUrl());
  c.send({ type: 'join', room, name });
  await c.expect('joined', 10_000);
  return c;
}

// The receiver runs in a process of its own, so its work is not counted in the round trips.
const RECEIVER = `
const server = require('node:http').createServer((req, res) => {
  req.resume();
  if (req.url === '/hang') return;
  res.writeHead(req.url === '/ok' ? 204 : 500).end();
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
const receiver = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => receiver.stdout.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
const redis = await startRedis();
const secret = `whsec_${randomBytes(32).toString('base64')}`;

async function run(label: string, webhook: Record<string, string>): Promise<string> {
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: uniquePrefix('bench-wh'),
    RATE_LIMIT_PER_SEC: '100000',
    RATE_LIMIT_BURST: '100000',
    ...webhook,
  };
  const dynos = [await startDyno({ env }), await startDyno({ env })] as [Dyno, Dyno];
  const rssStart = dynos.map(rssMb);
  let stop = false;
  let changes = 0;
  // Churn: each room has a stayer and a member who leaves and rejoins as fast as it is told.
  const churn = Array.from({ length: ROOMS }, async (_, i) => {
    const stayer = await joined(dynos[i % 2] as Dyno, `churn-${i}`, 'stayer');
    const mover = await joined(dynos[(i + 1) % 2] as Dyno, `churn-${i}`, 'mover');
    // Paced, so every run does the same work: one leave and one join per room every PACE_MS.
    for (let next = performance.now(); !stop; next += PACE_MS) {
      mover.send({ type: 'leave' });
      mover.send({ type: 'join', room: `churn-${i}`, name: 'mover' });
      await mover.expect('joined', 10_000);
      changes += 2;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next + PACE_MS - performance.now())));
    }
    stayer.ws.terminate();
    mover.ws.terminate();
  });
  const a = await joined(dynos[0], 'probe', 'a');
  const b = await joined(dynos[1], 'probe', 'b');
  await a.expect('peer-joined');
  const rtts: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const t0 = performance.now();
    a.send({ type: 'signal', to: 'b', data: { t0 } });
    await b.expect('signal', 10_000);
    b.send({ type: 'signal', to: 'a', data: { t0 } });
    await a.expect('signal', 10_000);
    rtts.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const rssEnd = dynos.map(rssMb);
  const cpu = dynos.map(cpuSeconds);
  const lag = await Promise.all(
    dynos.map(async (d) => {
      const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_lag_p99_seconds'));
      return Number(line?.slice(line.lastIndexOf(' ') + 1)) * 1000;
    }),
  );
  stop = true;
  await Promise.all(churn);
  a.ws.terminate();
  b.ws.terminate();
  await Promise.all(dynos.map((d) => d.stop('SIGKILL')));
  rtts.sort((x, y) => x - y);
  const fmt = (v: number[]): string => v.map((x) => x.toFixed(0)).join(' / ');
  return `| ${label} | ${rtts.length} | ${percentile(rtts, 50).toFixed(2)} | ${percentile(rtts, 99).toFixed(2)} | ${changes} | ${fmt(rssStart)} | ${fmt(rssEnd)} | ${cpu.map((c) => c.toFixed(1)).join(' / ')} | ${lag.map((l) => l.toFixed(0)).join(' / ')} |`;
}

const hooks = (path: string, extra: Record<string, string> = {}): Record<string, string> => ({
  WEBHOOK_URL: `http://127.0.0.1:${port}${path}`,
  WEBHOOK_SECRET: secret,
  ...extra,
});
const only = process.argv[3];
const rows =
  only === 'quick'
    ? [await run('webhooks off', {}), await run('receiver answers 204', hooks('/ok'))]
    : [
        await run('webhooks off', {}),
        await run('receiver answers 204', hooks('/ok')),
        await run('receiver answers 500 (default backoff)', hooks('/fail')),
        await run('receiver answers 500 (backoff 50-200 ms)', hooks('/fail', { WEBHOOK_BACKOFF_MS: '50', WEBHOOK_BACKOFF_MAX_MS: '200' })),
        await run('receiver never answers', hooks('/hang', { WEBHOOK_TIMEOUT_MS: '2000' })),
      ];
console.log(
  `\n${seconds} s per run, ${ROOMS} rooms each leaving and rejoining every ${PACE_MS} ms (${(ROOMS * 2000) / PACE_MS} webhook events/s), two dynos on one Redis\n`,
);
console.log(
  '| run | round trips | RTT median ms | RTT p99 ms | membership changes | RSS start MB (dyno 1 / 2) | RSS end MB | CPU s | event-loop lag p99 ms |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
receiver.kill();
await redis.stop();
