import type { StepResult } from './rate-steps.ts';

const MB = 1024 * 1024;

/** The role's figure in a step, or "-" when the bench could not read that process. */
function role(step: StepResult, name: string): { cores: string; rss: string } {
  const usage = step.usage.find((u) => u.role === name);
  return usage ? { cores: usage.cores.toFixed(2), rss: (usage.rssBytes / MB).toFixed(0) } : { cores: '-', rss: '-' };
}

export const STEP_HEADER =
  '| target | offered/s | achieved/s | loss | p50 ms | p90 ms | p99 ms | max ms | cores node-0 / node-1 / redis / loadgen | RSS MB node-0 / node-1 / redis / loadgen | redis cmds/signal | send lag p99 ms | load1 |\n' +
  '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|';

export function stepRow(target: string, s: StepResult): string {
  const roles = ['node-0', 'node-1', 'redis', 'loadgen'].map((r) => role(s, r));
  const errors = Object.entries(s.errors)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const loss = `${s.lossPercent}%${errors ? ` (${errors})` : ''}`;
  const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 0) : '-');
  return `| ${target}${s.sustained ? '' : ' ✗'} | ${s.offered} | ${s.achieved} | ${loss} | ${ms(s.latencyMs.p50)} | ${ms(s.latencyMs.p90)} | ${ms(s.latencyMs.p99)} | ${ms(s.latencyMs.max)} | ${roles.map((r) => r.cores).join(' / ')} | ${roles.map((r) => r.rss).join(' / ')} | ${s.redisCommandsPerSignal ?? '-'} | ${ms(s.sendLagMs.p99)} | ${s.load1} |`;
}

/**
 * How many times better signaling is than socket.io on one figure (> 1: signaling better),
 * or null when either side has no figure.
 */
export function ratio(ours: number | null, theirs: number | null, lowerIsBetter = false): number | null {
  if (ours === null || theirs === null || !Number.isFinite(ours) || !Number.isFinite(theirs)) return null;
  const r = lowerIsBetter ? theirs / ours : ours / theirs;
  return Number.isFinite(r) ? Math.round(r * 100) / 100 : null;
}

export function times(r: number | null): string {
  return r === null ? 'n/a' : `${r.toFixed(2)}x`;
}

export function kb(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1024).toFixed(1)} KB`;
}
