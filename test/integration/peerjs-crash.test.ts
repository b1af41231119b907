import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { RawSocket, sleep } from '../fixtures/raw-socket.ts';

/**
 * PeerJS ids of a dyno that crashes (SIGKILL: no goodbye), with a survivor on the same
 * Redis: the same id and token take an id over at once through the survivor, and ids nobody
 * comes back for are freed once the dead dyno's lease and grace have run out, like members.
 */

const LEASE_MS = 1500;
const GRACE_MS = 500;
let redis: RedisFixture;
let survivor: Dyno;
let doomed: Dyno;
const sockets: RawSocket[] = [];

async function open(dyno: Dyno, id: string, token: string): Promise<RawSocket> {
  const socket = await RawSocket.open(dyno.wsUrl(`/peerjs?key=peerjs&id=${id}&token=${token}`));
  sockets.push(socket);
  await socket.waitFrames(1);
  return socket;
}

beforeAll(async () => {
  redis = await startRedis();
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: uniquePrefix('pjk'),
    NODE_LEASE_MS: String(LEASE_MS),
    RESUME_GRACE_MS: String(GRACE_MS),
  };
  [survivor, doomed] = await Promise.all([startDyno({ env }), startDyno({ env })]);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all([survivor?.stop(), doomed?.stop('SIGKILL')]);
  await redis?.stop();
});

describe('PeerJS ids of a crashed dyno', () => {
  it('are taken over at once with their token, and freed for anyone within the lease', async () => {
    const kept = await open(doomed, 'kept', 'tk');
    const orphan = await open(doomed, 'orphan', 'to');
    expect([kept.frames, orphan.frames]).toEqual([['{"type":"OPEN"}'], ['{"type":"OPEN"}']]);
    const peer = await open(survivor, 'peer', 'tp');
    await doomed.stop('SIGKILL');
    const killedAt = Date.now();
    // The owner comes back through the survivor: its token takes the id over before any sweep.
    const back = await open(survivor, 'kept', 'tk');
    expect(back.frames).toEqual(['{"type":"OPEN"}']);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS);
    peer.send({ type: 'OFFER', dst: 'kept', payload: { n: 1 } });
    await back.waitFrames(2);
    expect(back.frames[1]).toBe('{"type":"OFFER","src":"peer","dst":"kept","payload":{"n":1}}');
    // Someone else wants the orphan's id: taken until the dead dyno is swept, then free.
    const early = await open(survivor, 'orphan', 'stranger');
    expect(early.frames).toEqual(['{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}']);
    let taken: RawSocket | undefined;
    while (Date.now() - killedAt < 4 * (LEASE_MS + GRACE_MS) + 5000) {
      const attempt = await open(survivor, 'orphan', 'stranger');
      if (attempt.frames[0] === '{"type":"OPEN"}') {
        taken = attempt;
        break;
      }
      await sleep(250);
    }
    expect(taken?.frames).toEqual(['{"type":"OPEN"}']);
  });
});
