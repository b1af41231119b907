import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import type { SessionSink } from '../../../src/cluster/session.ts';
import { SignalingNode } from '../../../src/cluster/signaling-node.ts';

const log = pino({ level: 'silent' });

function recorder(): { sink: SessionSink; events: string[]; secrets: string[] } {
  const events: string[] = [];
  const secrets: string[] = [];
  return {
    events,
    secrets,
    sink: {
      joined: (_room, _name, peers, info) => {
        events.push(`joined:${peers.join(',')}`);
        secrets.push(info.resume);
      },
      peerJoined: (name) => void events.push(`+${name}`),
      peerLeft: (name) => void events.push(`-${name}`),
      deliver: (frame) => void events.push(`frame:${frame}`),
    },
  };
}

const OPTIONS = { nodeId: 'n1', prefix: 't:', maxRoomSize: 50, graceMs: 0, leaseMs: 1000, maxHeld: 4, logger: log };

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('SignalingNode with the embedded backend', () => {
  it('tells each of many concurrent joiners about every other member exactly once', async () => {
    const node = new SignalingNode(new MemoryBackend(), OPTIONS);
    const members = Array.from({ length: 12 }, (_, i) => ({ name: `m${i}`, ...recorder() }));
    const sessions = members.map((m, i) => node.createSession('v1', `c${i}`, m.sink, log));
    await Promise.all(sessions.map((s, i) => s.join('room', `m${i}`)));
    await tick();
    for (const m of members) {
      const [first, ...rest] = m.events;
      expect(first).toMatch(/^joined:/);
      const fromPeers = (first ?? '').slice('joined:'.length).split(',').filter(Boolean);
      const announced = rest.map((e) => e.slice(1));
      expect(rest.every((e) => e.startsWith('+'))).toBe(true);
      expect([...fromPeers, ...announced].sort()).toEqual(
        members
          .map((x) => x.name)
          .filter((n) => n !== m.name)
          .sort(),
      );
    }
  });

  it('reports peer-left once and frees the name for a new member', async () => {
    const node = new SignalingNode(new MemoryBackend(), OPTIONS);
    const a = recorder();
    const b = recorder();
    const sa = node.createSession('v1', 'a', a.sink, log);
    const sb = node.createSession('v1', 'b', b.sink, log);
    await sa.join('r', 'a');
    await sb.join('r', 'b');
    await tick();
    expect(await sb.close()).toBe(true);
    await tick();
    expect(a.events).toEqual(['joined:', '+b', '-b']);
    const c = recorder();
    expect(await node.createSession('v1', 'c', c.sink, log).join('r', 'b')).toEqual({ ok: true, resumed: false });
    expect(node.localMembers).toBe(2);
  });

  it('delivers signals in order and refuses them after leave', async () => {
    const node = new SignalingNode(new MemoryBackend(), OPTIONS);
    const a = recorder();
    const b = recorder();
    const sa = node.createSession('v1', 'a', a.sink, log);
    const sb = node.createSession('v1', 'b', b.sink, log);
    await sa.join('r', 'a');
    await sb.join('r', 'b');
    const results = await Promise.all([1, 2, 3].map((i) => sa.signal('b', `f${i}`)));
    expect(results).toEqual(['sent', 'sent', 'sent']);
    await tick();
    expect(b.events.filter((e) => e.startsWith('frame:'))).toEqual(['frame:f1', 'frame:f2', 'frame:f3']);
    expect(await sa.signal('nobody', 'x')).toBe('peer-not-found');
    await sa.leave();
    expect(await sa.signal('b', 'x')).toBe('not-joined');
  });

  describe('resume', () => {
    const graceful = { ...OPTIONS, graceMs: 200 };

    it('replays what a resumed member missed and hides the gap from its peers', async () => {
      const node = new SignalingNode(new MemoryBackend(), graceful);
      const a = recorder();
      const b = recorder();
      const sa = node.createSession('v1', 'a', a.sink, log);
      await sa.join('r', 'a');
      await node.createSession('v1', 'b', b.sink, log).join('r', 'b');
      await tick();
      await sa.close('disconnect');
      // While a is away: b signals it (held), c joins and d joins then leaves.
      const sb = node.createSession('v1', 'b2', recorder().sink, log);
      expect(await sb.join('r', 'x')).toEqual({ ok: true, resumed: false });
      expect(await sb.signal('a', 'held-1')).toBe('sent');
      expect(await sb.signal('a', 'held-2')).toBe('sent');
      expect(await sb.signal('a', 'held-3')).toBe('sent');
      expect(await sb.signal('a', 'held-4')).toBe('sent');
      expect(await sb.signal('a', 'held-5')).toBe('peer-backlogged');
      await tick();
      const again = recorder();
      const resumed = node.createSession('v1', 'a2', again.sink, log);
      expect(await resumed.join('r', 'a', a.secrets[0])).toEqual({ ok: true, resumed: true });
      expect(again.events).toEqual(['joined:b', '+x', 'frame:held-1', 'frame:held-2', 'frame:held-3', 'frame:held-4']);
      expect(b.events).toEqual(['joined:a', '+x']);
      // The secret rotates: the old one no longer works, the new one does.
      expect(again.secrets[0]).not.toBe(a.secrets[0]);
    });

    it('refuses a wrong secret with name-taken and removes the member after the grace', async () => {
      const node = new SignalingNode(new MemoryBackend(), graceful);
      const a = recorder();
      const b = recorder();
      const sa = node.createSession('v1', 'a', a.sink, log);
      await sa.join('r', 'a');
      await node.createSession('v1', 'b', b.sink, log).join('r', 'b');
      await tick();
      await sa.close('disconnect');
      expect(await node.createSession('v1', 'm', recorder().sink, log).join('r', 'a', 'guess')).toEqual({ ok: false, code: 'name-taken' });
      expect(await node.createSession('v1', 'm2', recorder().sink, log).join('r', 'a')).toEqual({ ok: false, code: 'name-taken' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(b.events).toEqual(['joined:a', '-a']);
      // After the grace a stale secret starts a fresh membership instead of resuming.
      const late = recorder();
      expect(await node.createSession('v1', 'a3', late.sink, log).join('r', 'a', a.secrets[0])).toEqual({ ok: true, resumed: false });
      node.stop();
    });

    it('closes the old connection when a live membership is resumed elsewhere', async () => {
      const node = new SignalingNode(new MemoryBackend(), graceful);
      let replaced = 0;
      const a = recorder();
      const sa = node.createSession('v1', 'a', { ...a.sink, replaced: () => replaced++ }, log);
      await sa.join('r', 'a');
      const again = recorder();
      expect(await node.createSession('v1', 'a2', again.sink, log).join('r', 'a', a.secrets[0])).toEqual({ ok: true, resumed: true });
      expect(replaced).toBe(1);
      expect(sa.isJoined).toBe(false);
    });
  });
});
