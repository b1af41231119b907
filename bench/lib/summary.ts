import type { IdleMemoryResult } from './idle-memory.ts';
import type { JoinStormResult } from './join-storm.ts';
import type { BenchOptions } from './options.ts';
import type { StepResult } from './rate-steps.ts';
import { highestCarried } from './rate-steps.ts';
import { kb, ratio, times } from './report.ts';

export interface TargetResult {
  steps: StepResult[];
  highestSustained: number;
  idle?: IdleMemoryResult;
  storm?: JoinStormResult;
}

export interface Summary {
  ratios: Record<string, number | null>;
  /** Issue 8's targets: met, not met, or not measured in this run. */
  targets: Array<{ target: string; measured: string; met: boolean | null }>;
  lines: string[];
}

const at1k = (t: TargetResult | undefined): StepResult | undefined => t?.steps.find((s) => s.offered === 1000);

export function summarize(options: BenchOptions, ours: TargetResult | undefined, theirs: TargetResult | undefined): Summary {
  const o1k = at1k(ours);
  const t1k = at1k(theirs);
  const ratios = {
    highestSustainedRate: ratio(ours?.highestSustained ?? null, theirs?.highestSustained ?? null),
    highestCarriedRate: ratio(ours ? highestCarried(ours.steps) : null, theirs ? highestCarried(theirs.steps) : null),
    p50At1k: ratio(o1k?.latencyMs.p50 ?? null, t1k?.latencyMs.p50 ?? null, true),
    p99At1k: ratio(o1k?.latencyMs.p99 ?? null, t1k?.latencyMs.p99 ?? null, true),
    rssPerIdleConnection: ratio(ours?.idle?.rssPerConnection ?? null, theirs?.idle?.rssPerConnection ?? null, true),
  };
  const rate = ours?.steps.length ? ours.highestSustained : null;
  const cmds = o1k?.redisCommandsPerSignal ?? null;
  const targets: Summary['targets'] = [
    {
      target: 'at 1,000/s: p50 <= 1 ms, p99 <= 5 ms, nothing lost',
      measured: o1k ? `p50 ${o1k.latencyMs.p50} ms, p99 ${o1k.latencyMs.p99} ms, lost ${o1k.lost}` : 'not run',
      met: o1k ? o1k.latencyMs.p50 <= 1 && o1k.latencyMs.p99 <= 5 && o1k.lost === 0 : null,
    },
    {
      target: `sustained >= 10,000/s with p99 <= ${options.p99BoundMs} ms (stretch 20,000)`,
      measured: rate === null ? 'not run' : `${rate}/s`,
      met: rate === null ? null : rate >= 10_000,
    },
    {
      target: '>= 3x the highest rate socket.io sustains at the same p99 bound',
      measured: ratios.highestSustainedRate === null ? 'n/a' : times(ratios.highestSustainedRate),
      met: ratios.highestSustainedRate === null ? null : ratios.highestSustainedRate >= 3,
    },
    {
      target: '<= 8 KB RSS per idle joined connection',
      measured: ours?.idle ? kb(ours.idle.rssPerConnection) : 'not run',
      met: ours?.idle ? ours.idle.rssPerConnection <= 8 * 1024 : null,
    },
    {
      target: `join storm (${options.stormMembers} members, ${options.stormRooms} rooms) <= 2 s`,
      measured: ours?.storm ? `${ours.storm.ms} ms${ours.storm.incomplete ? `, ${ours.storm.incomplete} incomplete` : ''}` : 'not run',
      met: ours?.storm ? ours.storm.ms <= 2000 && ours.storm.incomplete === 0 : null,
    },
    {
      target: 'one Redis command per relayed signal',
      measured: cmds === null ? 'not run' : `${cmds} commands per signal at 1,000/s`,
      met: cmds === null ? null : cmds <= 1.02,
    },
  ];
  const lines = [
    `== summary (p99 bound ${options.p99BoundMs} ms; ratios: how many times better signaling is, > 1 = better)`,
    `highest sustained rate: signaling ${ours?.highestSustained ?? '-'}/s, socket.io ${theirs?.highestSustained ?? '-'}/s -> ${times(ratios.highestSustainedRate)}`,
    `highest rate carried without loss (any latency): signaling ${ours ? highestCarried(ours.steps) : '-'}/s, socket.io ${theirs ? highestCarried(theirs.steps) : '-'}/s -> ${times(ratios.highestCarriedRate)}`,
    `latency at 1k/s: p50 ${o1k?.latencyMs.p50 ?? '-'} vs ${t1k?.latencyMs.p50 ?? '-'} ms (${times(ratios.p50At1k)}), p99 ${o1k?.latencyMs.p99 ?? '-'} vs ${t1k?.latencyMs.p99 ?? '-'} ms (${times(ratios.p99At1k)})`,
    `RSS per idle joined connection: ${kb(ours?.idle?.rssPerConnection ?? null)} vs ${kb(theirs?.idle?.rssPerConnection ?? null)} (${times(ratios.rssPerIdleConnection)})`,
    '== issue 8 targets',
    ...targets.map((t) => `${t.met === null ? '  -  ' : t.met ? ' met ' : ' NOT '} ${t.target}: ${t.measured}`),
  ];
  return { ratios, targets, lines };
}
