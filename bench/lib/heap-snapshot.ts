import { WebSocket } from 'ws';

/** Count and self size of one kind of heap object. */
export interface HeapKind {
  count: number;
  bytes: number;
}

/**
 * Takes a heap snapshot of a process through its V8 inspector (what --heapsnapshot-signal
 * writes, without a file) and returns it grouped: objects by constructor name, strings,
 * closures by function name, arrays, code and V8's internal kinds by type.
 */
export async function heapByKind(inspectorUrl: string): Promise<Map<string, HeapKind>> {
  const ws = new WebSocket(inspectorUrl, { perMessageDeflate: false, maxPayload: 2 ** 31 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const chunks: string[] = [];
  let id = 0;
  const call = (method: string, params: Record<string, unknown> = {}): Promise<void> =>
    new Promise((resolve) => {
      const mine = ++id;
      const onMessage = (raw: Buffer): void => {
        const message = JSON.parse(raw.toString('utf8')) as { id?: number; method?: string; params?: { chunk: string } };
        if (message.id === mine) {
          ws.off('message', onMessage);
          resolve();
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  ws.on('message', (raw: Buffer) => {
    const message = JSON.parse(raw.toString('utf8')) as { method?: string; params?: { chunk: string } };
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params?.chunk ?? '');
  });
  await call('HeapProfiler.enable');
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
  await call('HeapProfiler.disable');
  ws.close();
  return group(JSON.parse(chunks.join('')) as Snapshot);
}

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** HEAP_STRINGS=1: strings by shape (digits and long runs masked), to see which ones are per member. */
const STRING_DETAIL = process.env['HEAP_STRINGS'] === '1';
function stringShape(value: string): string {
  return value
    .slice(0, 60)
    .replace(/[A-Za-z0-9_-]{7,}/g, '*')
    .replace(/[0-9]+/g, '#');
}

function group(s: Snapshot): Map<string, HeapKind> {
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const countAt = fields.indexOf('edge_count');
  const edgeFields = s.snapshot.meta.edge_fields;
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const edgeWidth = edgeFields.length;
  const edgeTypeAt = edgeFields.indexOf('type');
  const edgeNameAt = edgeFields.indexOf('name_or_index');
  const edgeToAt = edgeFields.indexOf('to_node');
  const firstEdge: number[] = [];
  for (let i = 0, e = 0; i < s.nodes.length; i += width) {
    firstEdge.push(e);
    e += (s.nodes[i + countAt] as number) * edgeWidth;
  }
  /** Names of a node's edges of `kind` (property names of an object, variables of a context). */
  const edgeNames = (node: number, kind: string, limit = 8): string[] => {
    const names: string[] = [];
    const start = firstEdge[node / width] as number;
    const end = start + (s.nodes[node + countAt] as number) * edgeWidth;
    for (let e = start; e < end && names.length < limit; e += edgeWidth) {
      if (edgeTypes[s.edges[e + edgeTypeAt] as number] === kind) names.push(s.strings[s.edges[e + edgeNameAt] as number] ?? '?');
    }
    return names;
  };
  const contextOf = (node: number): number | undefined => {
    const start = firstEdge[node / width] as number;
    const end = start + (s.nodes[node + countAt] as number) * edgeWidth;
    for (let e = start; e < end; e += edgeWidth) {
      if (s.strings[s.edges[e + edgeNameAt] as number] === 'context' && edgeTypes[s.edges[e + edgeTypeAt] as number] === 'internal')
        return s.edges[e + edgeToAt];
    }
    return undefined;
  };
  const out = new Map<string, HeapKind>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt] as number] ?? '?';
    const name = s.strings[s.nodes[i + nameAt] as number] ?? '?';
    let key: string;
    // Plain objects by their property names, closures by what they close over: that says whose they are.
    if (type === 'object' && name === 'Object') key = `Object {${edgeNames(i, 'property').join(', ')}}`;
    else if (type === 'object') key = name;
    else if (type === 'closure') {
      const context = contextOf(i);
      key = `closure ${name || '(anonymous)'} [${context === undefined ? '' : edgeNames(context, 'context').join(', ')}]`;
    } else if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
      key = STRING_DETAIL ? `(string) ${stringShape(name)}` : '(string)';
    else if (type === 'hidden' || type === 'array' || type === 'code' || type === 'object shape')
      key = `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
    else key = `(${type})`;
    const kind = out.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += s.nodes[i + sizeAt] as number;
    out.set(key, kind);
  }
  return out;
}

/** What grew between two snapshots, per `per` (members), largest first. */
export function growth(
  before: Map<string, HeapKind>,
  after: Map<string, HeapKind>,
  per: number,
  top = 40,
): Array<{ kind: string; count: number; bytes: number }> {
  const rows: Array<{ kind: string; count: number; bytes: number }> = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    rows.push({ kind, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
