/**
 * A reconnect storm after a deploy (issue 17): N clients of the real client library joined
 * through a router front to two dynos; two new dynos start and the old ones get SIGTERM at
 * once; every client reconnects with its jittered backoff and resumes on a new dyno. Prints
 * the time from the SIGTERM to the last member back, how many resumed, the joins refused
 * by MAX_JOINS_PER_SEC, and the new dynos' peak RSS. The lean version runs in `npm test`
 * (test/integration/reconnect-storm.test.ts).
 * Usage: npm run bench:storm -- [--members 5000] [--room-size 5] [--joins-per-sec N] [--grace 60000] [--runs 1]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/fixtures/redis.ts';
import { runReconnectStorm } from '../test/fixtures/reconnect-storm.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '5000' },
    'room-size': { type: 'string', default: '5' },
    'joins-per-sec': { type: 'string' },
    // The grace runs from the old dyno's drain: it must cover drain + restart + storm.
    grace: { type: 'string', default: '60000' },
    runs: { type: 'string', default: '1' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

const redis = await startRedis();
try {
  for (let run = 1; run <= Number(values.runs); run++) {
    const env: Record<string, string> = { RESUME_GRACE_MS: values.grace, REDIS_PREFIX: `storm${run}-${Date.now().toString(36)}:` };
    const newEnv: Record<string, string> = values['joins-per-sec'] ? { MAX_JOINS_PER_SEC: values['joins-per-sec'] } : {};
    say(
      `== run ${run} (load ${loadavg()[0]?.toFixed(1)}): ${values.members} members in rooms of ${values['room-size']}, MAX_JOINS_PER_SEC=${newEnv['MAX_JOINS_PER_SEC'] ?? '(default)'}, RESUME_GRACE_MS=${env['RESUME_GRACE_MS']}`,
    );
    const result = await runReconnectStorm({
      members: Number(values.members),
      roomSize: Number(values['room-size']),
      redisUrl: redis.url,
      env,
      newEnv,
      timeoutMs: 120_000,
      // A member that did not resume had its grace run out before it came back: its peer-left is out already.
      settleMs: 2000,
      say,
    });
    say(
      `storm: ${result.stormMs} ms from SIGTERM to the last member back (old dynos drained in ${result.drainMs} ms, new ones listening at ${result.restartMs} ms, then ${result.afterStartMs} ms of storm)`,
    );
    say(`       ${result.back}/${result.members} back, ${result.resumed} resumed, ${result.peerLeft} peer-left seen`);
    say(`       joins refused by the cap: ${result.throttled}; client errors ${JSON.stringify(result.errors)}`);
    say(
      `       new dynos: RSS idle ${result.newDynos.map((d) => mb(d.idleRssBytes)).join(' / ')}, peak ${result.newDynos.map((d) => mb(d.peakRssBytes)).join(' / ')}, after ${result.newDynos.map((d) => mb(d.rssBytes)).join(' / ')}; bench process RSS ${mb(process.memoryUsage().rss)}; load ${loadavg()[0]?.toFixed(1)}`,
    );
  }
} finally {
  await redis.stop();
}
process.exit(0);
