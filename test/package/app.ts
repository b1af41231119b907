// A consumer of the installed package: two members join, signal, broadcast and leave, in
// Node with its global WebSocket. Prints one JSON line per event (client-package.test.ts).
import { SignalingClient, type JoinedEvent, type SignalingClientEvents } from 'webrtc-signaling-client';

declare const process: { argv: string[]; exit(code: number): never };
const url = process.argv[2];
if (!url) throw new Error('usage: node app.ts <ws url of a dyno>');

const print = (line: Record<string, unknown>): void => console.log(JSON.stringify(line));
const next = <E extends keyof SignalingClientEvents>(client: SignalingClient, event: E): Promise<SignalingClientEvents[E]> =>
  new Promise((resolve) => {
    const off = client.on(event, (value) => {
      off();
      resolve(value);
    });
  });

const alice = new SignalingClient({ url, room: 'package', name: 'alice', metadata: { displayName: 'Alice' } });
const bob = new SignalingClient({ url, room: 'package', name: 'bob', metadata: { displayName: 'Bob' } });
const timeout = setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 20_000);

const aliceJoined: Promise<JoinedEvent> = next(alice, 'joined');
alice.connect();
print({ alice: 'joined', peers: [...(await aliceJoined).peers] });

const bobJoined = next(bob, 'joined');
const heard = next(alice, 'peer-joined');
bob.connect();
const joined = await bobJoined;
print({ bob: 'joined', peers: [...joined.peers], members: joined.members.map((m) => ({ name: m.name, metadata: m.metadata })) });
const peer = await heard;
print({ alice: 'peer-joined', name: peer.name, metadata: peer.metadata });

const signal = next(alice, 'signal');
bob.signal('alice', { hello: 1 });
const got = await signal;
print({ alice: 'signal', from: got.from, data: got.data });

const broadcast = next(bob, 'broadcast');
alice.broadcast({ text: 'hi all' });
const all = await broadcast;
print({ bob: 'broadcast', from: all.from, data: all.data });

const left = next(alice, 'peer-left');
const closed = next(bob, 'state');
bob.leave();
print({ alice: 'peer-left', name: (await left).name });
print({ bob: 'state', state: (await closed).state });

alice.leave();
clearTimeout(timeout);
