import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';

/**
 * The heartbeat pings each socket in its own phase of HEARTBEAT_MS, a few per event-loop turn
 * (one loop over 50,000 idle members stalled the dyno for over a second every round). Every
 * socket must still be pinged each interval, and one that stops answering cut, whatever its
 * phase. test/unit/server/heartbeat.test.ts checks the bounds with fake timers.
 */
let dyno: Dyno;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  // Long enough that a pong delayed by a busy box is still in time.
  dyno = await startDyno({ env: { HEARTBEAT_MS: '1500' } });
});

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await dyno?.stop();
});

function open(autoPong: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(dyno.wsUrl(), { autoPong });
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

it('pings every one of 1,200 sockets each interval and cuts the silent ones, whatever their phase', async () => {
  const lively: WebSocket[] = [];
  for (let i = 0; i < 12; i++) lively.push(...(await Promise.all(Array.from({ length: 100 }, () => open(true)))));
  // Opened last: phases are dealt round robin, so these land wherever the count left off.
  const silent = await Promise.all(Array.from({ length: 3 }, () => open(false)));
  const pings = new Map<WebSocket, number>();
  for (const ws of lively) ws.on('ping', () => pings.set(ws, (pings.get(ws) ?? 0) + 1));
  const cut = silent.map((ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code))));
  expect(await Promise.all(cut)).toEqual([1006, 1006, 1006]);
  // Two more intervals reach every lively one.
  const deadline = Date.now() + 15_000;
  while (lively.some((ws) => (pings.get(ws) ?? 0) < 2) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(lively.filter((ws) => (pings.get(ws) ?? 0) >= 2)).toHaveLength(lively.length);
  expect(lively.every((ws) => ws.readyState === WebSocket.OPEN)).toBe(true);
});
