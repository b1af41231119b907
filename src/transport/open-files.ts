import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/** Descriptors a dyno needs besides its WebSockets: Redis connections, logs, files, the listener. */
const RESERVED = 100;

import { DEFAULTS } from '../config/defaults.ts';

/**
 * The connection limit this process can really keep: every WebSocket is a file descriptor,
 * and past the open-files limit the kernel refuses `accept` (EMFILE), so clients would time
 * out instead of getting a 503 with Retry-After. So MAX_CONNECTIONS is lowered to the
 * limit minus a reserve, with a warning when it was set explicitly (the default is lowered
 * quietly). Linux only (it reads /proc/self/limits); elsewhere the value stands.
 */
export function connectionCeiling(maxConnections: number, log: Logger, limitsText = readLimits()): number {
  const soft = limitsText === undefined ? undefined : /^Max open files\s+(\d+)/m.exec(limitsText)?.[1];
  if (soft === undefined) return maxConnections;
  const allowed = Math.max(1, Number(soft) - RESERVED);
  if (maxConnections <= allowed) return maxConnections;
  const fields = { maxConnections, openFiles: Number(soft), using: allowed };
  if (maxConnections === DEFAULTS.maxConnections) {
    log.info(fields, 'the open-files limit is below the default MAX_CONNECTIONS; taking fewer connections');
  } else {
    log.warn(
      fields,
      `MAX_CONNECTIONS=${maxConnections} is more sockets than the open-files limit allows; using ${allowed} (raise ulimit -n to take more)`,
    );
  }
  return allowed;
}

function readLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
}
