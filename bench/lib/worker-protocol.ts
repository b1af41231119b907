import type { TargetKind } from './bench-client.ts';

/**
 * Messages between bench/run.ts and its load-generator processes (child_process IPC with
 * the "advanced" serialization, so latency arrays travel as typed arrays, not JSON).
 * Times that cross processes are absolute: performance.timeOrigin + performance.now().
 */

/** Opens `count` pairs: member "a" on urls[0], "b" on urls[1], each pair in its own room. */
export interface PairsCommand {
  cmd: 'pairs';
  kind: TargetKind;
  urls: [string, string];
  /** Room names are `${roomPrefix}${first + i}`. */
  roomPrefix: string;
  first: number;
  count: number;
}

/** Drives `rate` signals/s (this worker's share) over the open pairs, scheduled from `startAt`. */
export interface StepCommand {
  cmd: 'step';
  step: number;
  rate: number;
  startAt: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
}

/** Opens one socket per member; joins start only at `go`. */
export interface StormPrepareCommand {
  cmd: 'storm-prepare';
  kind: TargetKind;
  urls: [string, string];
  members: Array<{ room: string; name: string; dyno: 0 | 1; expectedPeers: number }>;
}

export interface StormGoCommand {
  cmd: 'storm-go';
  startAt: number;
  timeoutMs: number;
}

export interface CloseCommand {
  cmd: 'close';
}

export type WorkerCommand = PairsCommand | StepCommand | StormPrepareCommand | StormGoCommand | CloseCommand;

export interface StepReport {
  sent: number;
  /** Signals the client could not even hand to its socket (it was closed). */
  sendFailed: number;
  /** Signals of this step that arrived before the drain ended. */
  received: number;
  /** Arrivals (of this step's signals) inside the measured window: the achieved rate. */
  receivedInWindow: number;
  /** One-way latency (ms, arrival minus scheduled send) of measured signals that arrived. */
  latencies: Float64Array;
  /** How late (ms) each measured signal left the generator compared with its schedule. */
  sendLags: Float64Array;
  /** Signals of earlier steps that arrived during this one. */
  late: number;
  errors: Record<string, number>;
  closed: number;
}

export interface StormReport {
  /** Absolute ms of this worker's first join sent and last member completed. */
  firstSend: number;
  lastComplete: number;
  completed: number;
  incomplete: number;
  errors: Record<string, number>;
}

export type WorkerReply =
  | { ok: true; cmd: 'pairs' | 'storm-prepare' | 'close'; ms: number }
  | { ok: true; cmd: 'step'; report: StepReport }
  | { ok: true; cmd: 'storm-go'; report: StormReport }
  | { ok: false; error: string };
