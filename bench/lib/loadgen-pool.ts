import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerCommand, WorkerReply } from './worker-protocol.ts';

const WORKER = fileURLToPath(new URL('../loadgen-worker.ts', import.meta.url));

/**
 * The load generator: separate processes, so it gets cores of its own from the scheduler and
 * its CPU can be read from /proc like any other process's. Commands go to every worker at
 * once; each worker answers one command at a time.
 */
export class LoadgenPool {
  readonly workers: ChildProcess[];

  constructor(count: number) {
    this.workers = Array.from({ length: count }, () =>
      fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid as number);
  }

  /** Sends one command per worker (index i gets commands[i]) and awaits every reply. */
  async run<R extends WorkerReply & { ok: true }>(commands: readonly WorkerCommand[]): Promise<R[]> {
    return Promise.all(commands.map((command, i) => this.ask<R>(this.workers[i] as ChildProcess, command)));
  }

  /** The same command to every worker. */
  async all<R extends WorkerReply & { ok: true }>(command: WorkerCommand): Promise<R[]> {
    return this.run<R>(this.workers.map(() => command));
  }

  stop(): void {
    for (const w of this.workers) w.kill('SIGKILL');
  }

  private ask<R>(worker: ChildProcess, command: WorkerCommand): Promise<R> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`load generator ${worker.pid} exited (${String(code)}) during ${command.cmd}`));
      worker.once('exit', onExit);
      worker.once('message', (reply: WorkerReply) => {
        worker.off('exit', onExit);
        if (reply.ok) resolve(reply as R);
        else reject(new Error(`load generator ${worker.pid} failed ${command.cmd}: ${reply.error}`));
      });
      worker.send(command);
    });
  }
}

/** Splits `total` into `parts` near-equal integers. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}
