import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import { RawSocket } from '../fixtures/raw-socket.ts';

/**
 * The security defaults and limits of the PeerJS and y-webrtc endpoints, against real dyno
 * processes (embedded backend): TOKEN_SECRET turns both off unless PEERJS=true / YWEBRTC=true,
 * and the start log says so; ALLOWED_ORIGINS applies to them (else any Origin); MAX_CONNECTIONS
 * answers PeerJS with the reference's ERROR; PEERJS_ALIVE_TIMEOUT_MS closes silent sockets.
 */

const SECRET = 'x'.repeat(40);
const GOOD = 'http://good.example';
let locked: Dyno;
let opened: Dyno;
const sockets: RawSocket[] = [];

async function open(url: string, origin?: string): Promise<RawSocket> {
  const socket = await RawSocket.open(url, origin);
  sockets.push(socket);
  return socket;
}

function listening(dyno: Dyno): Record<string, unknown> {
  const line = dyno.output.find((l) => l.includes('"listening"'));
  return JSON.parse(line ?? '{}') as Record<string, unknown>;
}

beforeAll(async () => {
  [locked, opened] = await Promise.all([
    startDyno({ env: { TOKEN_SECRET: SECRET } }),
    startDyno({
      env: {
        TOKEN_SECRET: SECRET,
        PEERJS: 'true',
        ALLOWED_ORIGINS: GOOD,
        MAX_CONNECTIONS: '3',
        PEERJS_ALIVE_TIMEOUT_MS: '1500',
        PEERJS_PATHS: '/p2p',
      },
    }),
  ]);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all([locked?.stop(), opened?.stop()]);
});

describe('PeerJS and y-webrtc security defaults', () => {
  it('turns both off when TOKEN_SECRET is set, and says why in the start log', async () => {
    const log = listening(locked);
    expect(log['peerjs']).toMatch(/^off \(TOKEN_SECRET is set.*PEERJS=true/);
    expect(log['ywebrtc']).toMatch(/^off \(TOKEN_SECRET is set.*YWEBRTC=true/);
    await expect(RawSocket.open(locked.wsUrl('/peerjs?key=peerjs&id=a&token=t'))).rejects.toThrow('HTTP 404');
    await expect(RawSocket.open(locked.wsUrl('/y-webrtc'))).rejects.toThrow('HTTP 404');
    expect((await fetch(`${locked.httpUrl}/peerjs/id`)).status).toBe(404);
  });

  it('opens PeerJS with PEERJS=true at PEERJS_PATHS, applying ALLOWED_ORIGINS to upgrades and CORS', async () => {
    const log = listening(opened);
    expect(log['peerjs']).toBe('on at /p2p/peerjs (PEERJS=true)');
    expect(log['ywebrtc']).toMatch(/^off \(TOKEN_SECRET/);
    await expect(RawSocket.open(opened.wsUrl('/p2p/peerjs?key=peerjs&id=evil&token=t'), 'http://evil.example')).rejects.toThrow('HTTP 403');
    const good = await open(opened.wsUrl('/p2p/peerjs?key=peerjs&id=good&token=t'), GOOD);
    expect(await good.waitFrames(1)).toEqual(['{"type":"OPEN"}']);
    const fromGood = await fetch(`${opened.httpUrl}/p2p/peerjs/id`, { headers: { Origin: GOOD } });
    expect(fromGood.headers.get('access-control-allow-origin')).toBe(GOOD);
    const fromEvil = await fetch(`${opened.httpUrl}/p2p/peerjs/id`, { headers: { Origin: 'http://evil.example' } });
    expect(fromEvil.status).toBe(200);
    expect(fromEvil.headers.get('access-control-allow-origin')).toBeNull();
    // Messages may wait for at most 64 ids per connection: the 65th id is answered EXPIRE at once.
    for (let i = 0; i < 65; i++) good.send({ type: 'OFFER', dst: `absent-${i}`, payload: {} });
    expect(await good.waitType('EXPIRE', 3000)).toEqual({ type: 'EXPIRE', src: 'absent-64', dst: 'good' });
    // Discovery is off by default: 401, as the reference.
    expect((await fetch(`${opened.httpUrl}/p2p/peerjs/peers`)).status).toBe(401);
    const metrics = await (await fetch(`${opened.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/signaling_joins_total\{[^}]*protocol="peerjs"[^}]*outcome="joined"[^}]*\} [1-9]/);
  });

  it('answers MAX_CONNECTIONS with the reference ERROR, and closes a socket silent for PEERJS_ALIVE_TIMEOUT_MS', async () => {
    const url = (id: string): string => opened.wsUrl(`/p2p/peerjs?key=peerjs&id=${id}&token=t`);
    const silent = await open(url('silent'));
    const chatty = await open(url('chatty'));
    const beat = setInterval(() => chatty.send({ type: 'HEARTBEAT' }), 300);
    try {
      await Promise.all([silent.waitFrames(1), chatty.waitFrames(1)]);
      // The `good` socket of the test above is the third.
      const over = await open(url('over'));
      expect(await over.waitFrames(1)).toEqual(['{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}']);
      await over.waitClose();
      const started = Date.now();
      await silent.waitClose(5000);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(chatty.closeCode).toBeUndefined();
    } finally {
      clearInterval(beat);
    }
  });
});
