// Must NOT type-check: proves the installed declarations are real types, not `any`.
import { SignalingClient } from 'webrtc-signaling-client';

const client = new SignalingClient({ url: 'ws://127.0.0.1:1/signaling', room: 'r', name: 'n' });
client.signal(42, { hello: 1 });
