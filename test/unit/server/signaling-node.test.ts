import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/memory-backend.ts';
import type { SessionSink } from '../../../src/cluster/session.ts';
import { SignalingNode } from '../../../src/cluster/signaling-node.ts';

const log = pino({ level: 'silent' });

function recorder(): { sink: SessionSink; events: string[] } {
  const events: string[] = [];
  return {
    events,
    sink: {
      joined: (_room, _name, peers) => events.push(`joined:${peers.join(',')}`),
      peerJoined: (name) => events.push(`+${name}`),
      peerLeft: (name) => events.push(`-${name}`),
      deliver: (frame) => events.push(`frame:${frame}`),
    },
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('SignalingNode with the embedded backend', () => {
  it('tells each of many concurrent joiners about every other member exactly once', async () => {
    const node = new SignalingNode(new MemoryBackend(), { nodeId: 'n1', prefix: 't:', maxRoomSize: 50, logger: log });
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
      expect([...fromPeers, ...announced].sort()).toEqual(members.map((x) => x.name).filter((n) => n !== m.name).sort());
    }
  });

  it('reports peer-left once and frees the name for a new member', async () => {
    const node = new SignalingNode(new MemoryBackend(), { nodeId: 'n1', prefix: 't:', maxRoomSize: 50, logger: log });
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
    expect(await node.createSession('v1', 'c', c.sink, log).join('r', 'b')).toEqual({ ok: true });
    expect(node.localMembers).toBe(2);
  });

  it('delivers signals in order and refuses them after leave', async () => {
    const node = new SignalingNode(new MemoryBackend(), { nodeId: 'n1', prefix: 't:', maxRoomSize: 50, logger: log });
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
});
