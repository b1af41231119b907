import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface FrameShare {
  frame: string;
  /** Share of the process's busy (non-idle) samples, in percent. */
  percent: number;
}

export interface ProfileSummary {
  /** Share of wall time the process was busy (not "(idle)"), in percent. */
  busyPercent: number;
  /** Self time by function. */
  topFrames: FrameShare[];
  /** Self time by where the code lives: a package, a src/ file, Node internals, GC. */
  byArea: FrameShare[];
}

/** Summarises a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes) by self time. */
export function summarizeProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byFrame = new Map<string, number>();
  const byArea = new Map<string, number>();
  let idle = 0;
  let total = 0;
  // Natives without a name (Buffer.byteLength, for one) are told apart by who called them.
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    const where = shortUrl(url);
    const caller = parentOf.get(node.id)?.callFrame;
    const name =
      functionName ||
      (where || !caller
        ? '(anonymous)'
        : `(native, called by ${caller.functionName || '(anonymous)'} ${shortUrl(caller.url)}:${caller.lineNumber + 1})`);
    const frame = where ? `${name} ${where}:${lineNumber + 1}` : name;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + hits);
    const area = areaOf(functionName, url);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const busy = total - idle;
  const shares = (m: Map<string, number>, n: number): FrameShare[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([frame, hits]) => ({ frame, percent: Math.round((1000 * hits) / busy) / 10 }));
  return { busyPercent: Math.round((1000 * busy) / Math.max(1, total)) / 10, topFrames: shares(byFrame, top), byArea: shares(byArea, 12) };
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

function areaOf(functionName: string, url: string): string {
  if (functionName.startsWith('(')) return functionName;
  if (!url) return '(native: JSON, builtins)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[1] ?? url.slice(5)}`;
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}
