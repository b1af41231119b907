import { connect } from 'node:net';

/**
 * Commands Redis has run so far, by name, from INFO commandstats over a raw RESP socket (no
 * client library, so the bench adds no connection state or retries of its own). The bench
 * diffs two readings around a step to count Redis commands per relayed signal.
 */
export async function commandCounts(redisUrl: string): Promise<Map<string, number>> {
  const { hostname, port } = new URL(redisUrl);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let reply = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('INFO commandstats\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const header = /^\$(\d+)\r\n/.exec(reply);
      if (header && Buffer.byteLength(reply) >= header[0].length + Number(header[1]) + 2) {
        socket.destroy();
        resolve(reply.slice(header[0].length));
      }
    });
    socket.once('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('INFO commandstats timed out'));
    }, 5000).unref();
  });
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(match[1] as string, Number(match[2]));
  return counts;
}

/** What ran between two readings, busiest first, without the INFO calls themselves. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Array<[string, number]> = [];
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0 && name !== 'info') delta.push([name, d]);
  }
  return Object.fromEntries(delta.sort((a, b) => b[1] - a[1]));
}
