/**
 * The baseline: a socket.io node with @socket.io/redis-adapter, written the way its docs show.
 * A member is a socket.io room ("<room>\n<name>"); a signal is io.to(memberRoom).emit(...).
 * Bench only (spawned by bench/run.ts); never part of the product.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

interface ClientToServer {
  join(message: { room: string; name: string }): void;
  signal(message: { to: string; data: unknown }): void;
}
interface ServerToClient {
  joined(message: { room: string; name: string }): void;
  'peer-joined'(message: { name: string }): void;
  signal(message: { from: string; data: unknown }): void;
}
interface Member {
  room?: string;
  name?: string;
}

const port = Number(process.env['PORT'] ?? 3000);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
// The same client options as the dynos' (auto-pipelining on), so Redis round trips are
// batched for both contenders alike.
const pub = new Redis(redisUrl, { enableAutoPipelining: true });
const sub = pub.duplicate();

const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(pub.status === 'ready' && sub.status === 'ready' ? 200 : 503).end();
    return;
  }
  res.writeHead(404).end();
});
// WebSocket only, no compression: what the dynos do too.
const io = new Server<ClientToServer, ServerToClient, Record<string, never>, Member>(http, {
  adapter: createAdapter(pub, sub),
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
});

const memberRoom = (room: string, name: string): string => `${room}\n${name}`;

io.on('connection', (socket) => {
  socket.on('join', ({ room, name }) => {
    socket.data.room = room;
    socket.data.name = name;
    void socket.join([room, memberRoom(room, name)]);
    socket.emit('joined', { room, name });
    socket.to(room).emit('peer-joined', { name });
  });
  socket.on('signal', ({ to, data }) => {
    const { room, name } = socket.data;
    if (room === undefined || name === undefined) return;
    io.to(memberRoom(room, to)).emit('signal', { from: name, data });
  });
});

for (const client of [pub, sub]) client.on('error', (error: Error) => process.stderr.write(`redis: ${error.message}\n`));
http.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`));
process.on('SIGTERM', () => {
  void io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
