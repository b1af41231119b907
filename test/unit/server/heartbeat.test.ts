import { EventEmitter } from 'node:events';
import type { WebSocketServer } from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HEARTBEAT_SLICE, startHeartbeat } from '../../../src/transport/heartbeat.ts';

/** A socket as the heartbeat sees it: pings are answered (a pong event) while `answering`. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  answering = true;
  pings: number[] = [];
  terminatedAt: number | undefined;
  ping(): void {
    this.pings.push(Date.now());
    // A real pong comes back a round trip later.
    if (this.answering) setTimeout(() => this.readyState === 1 && this.emit('pong'), 5);
  }
  terminate(): void {
    this.terminatedAt = Date.now();
    this.readyState = 3;
    setTimeout(() => this.emit('close', 1006), 0);
  }
}

class FakeServer extends EventEmitter {
  readonly clients = new Set<FakeSocket>();
  connect(): FakeSocket {
    const ws = new FakeSocket();
    this.clients.add(ws);
    ws.once('close', () => this.clients.delete(ws));
    this.emit('connection', ws);
    return ws;
  }
}

const INTERVAL = 25_000;

describe('heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('cuts a socket that went silent within 2 x HEARTBEAT_MS, and no live one', async () => {
    const wss = new FakeServer();
    const stop = startHeartbeat(wss as unknown as WebSocketServer, INTERVAL);
    // Sockets arriving at odd moments, so they land in many phases.
    const sockets: FakeSocket[] = [];
    for (let i = 0; i < 300; i++) {
      sockets.push(wss.connect());
      await vi.advanceTimersByTimeAsync(97);
    }
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    const silent = sockets.filter((_, i) => i % 3 === 0);
    const diedAt = Date.now();
    for (const ws of silent) ws.answering = false;
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    for (const ws of silent) {
      expect(ws.terminatedAt).toBeDefined();
      expect((ws.terminatedAt as number) - diedAt).toBeLessThanOrEqual(2 * INTERVAL);
    }
    for (const ws of sockets.filter((_, i) => i % 3 !== 0)) expect(ws.terminatedAt).toBeUndefined();
    stop();
  });

  it("sends every live socket a frame more often than the Heroku router's 55 s idle cut-off", async () => {
    const wss = new FakeServer();
    const stop = startHeartbeat(wss as unknown as WebSocketServer, INTERVAL);
    const sockets: Array<{ ws: FakeSocket; at: number }> = [];
    for (let i = 0; i < 200; i++) {
      sockets.push({ ws: wss.connect(), at: Date.now() });
      await vi.advanceTimersByTimeAsync(331);
    }
    await vi.advanceTimersByTimeAsync(5 * INTERVAL);
    const end = Date.now();
    for (const { ws, at } of sockets) {
      // First ping within one interval of connecting, then one every interval, to the end.
      const times = [at, ...ws.pings, end];
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      expect(Math.max(...gaps)).toBeLessThanOrEqual(INTERVAL);
      expect(Math.max(...gaps)).toBeLessThan(55_000);
      expect(ws.terminatedAt).toBeUndefined();
    }
    stop();
  });

  it("visits at most HEARTBEAT_SLICE sockets in one turn of the event loop, and spreads a dyno's pings over the interval", async () => {
    const wss = new FakeServer();
    const stop = startHeartbeat(wss as unknown as WebSocketServer, 1000);
    const sockets: FakeSocket[] = [];
    // 20,000 sockets over 40 phases is 500 per phase: more than a slice.
    for (let i = 0; i < 20_000; i++) {
      const ws = wss.connect();
      ws.answering = false;
      sockets.push(ws);
    }
    const countPings = (): number => sockets.reduce((n, ws) => n + ws.pings.length, 0);
    let most = 0;
    let turns = 0;
    const firstPingAt = new Map<number, number>();
    const start = Date.now();
    while (countPings() < 20_000 && Date.now() - start <= 1050) {
      const before = countPings();
      vi.advanceTimersToNextTimer();
      turns++;
      const done = countPings() - before;
      most = Math.max(most, done);
      const tenth = Math.floor((Date.now() - start) / 100);
      if (done > 0) firstPingAt.set(tenth, (firstPingAt.get(tenth) ?? 0) + done);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(HEARTBEAT_SLICE);
    // Every socket pinged once within the interval (fake immediates tick the clock by 1 ms each).
    expect(countPings()).toBe(20_000);
    expect(turns).toBeGreaterThanOrEqual(20_000 / HEARTBEAT_SLICE);
    // Spread: every tenth of the interval pings about a tenth of the sockets, none all of them.
    for (let tenth = 0; tenth < 10; tenth++) expect(firstPingAt.get(tenth) ?? 0).toBeLessThan(20_000 / 5);
    stop();
  });
});
