import { randomBytes } from 'node:crypto';
import type { Parsed } from './env-parsers.ts';
import { boolean, integer, keyPrefix, oneOf, redisUrl } from './env-parsers.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Everything the server reads from its environment, validated. README lists the same table. */
export interface Config {
  /** PORT, default 3000. 0 picks a free port (tests). */
  port: number;
  /** HOST, default 0.0.0.0 (Heroku routes to every interface). */
  host: string;
  /** REDIS_URL; unset means the embedded single-process backend. */
  redisUrl: string | undefined;
  /** REDIS_PREFIX, default "sig:": every key and channel starts with it. */
  redisPrefix: string;
  /** REDIS_TLS_VERIFY, default false: verify rediss:// certificates (Heroku's are self-signed). */
  redisTlsVerify: boolean;
  /** MAX_MESSAGE_BYTES, default 65536: larger frames close the socket with 1009. */
  maxMessageBytes: number;
  /** MAX_ROOM_SIZE, default 16: joins beyond it get room-full. */
  maxRoomSize: number;
  /** LOG_LEVEL, default info. */
  logLevel: (typeof LOG_LEVELS)[number];
  /** Identifies this dyno: DYNO (set by Heroku) or the host name, plus a random suffix. */
  nodeId: string;
}

/** Raised at start when a variable is malformed; the message names every bad variable. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  function read<T>(name: string, parse: (raw: string) => Parsed<T>, fallback: T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    problems.push(`${name}=${JSON.stringify(raw.slice(0, 80))} ${parsed.problem}`);
    return fallback;
  }
  const config: Config = {
    port: read('PORT', integer(0, 65535), 3000),
    host: read('HOST', (raw) => ({ ok: true, value: raw.trim() }), '0.0.0.0'),
    redisUrl: read<string | undefined>('REDIS_URL', redisUrl, undefined),
    redisPrefix: read('REDIS_PREFIX', keyPrefix, 'sig:'),
    redisTlsVerify: read('REDIS_TLS_VERIFY', boolean, false),
    maxMessageBytes: read('MAX_MESSAGE_BYTES', integer(256, 16 * 1024 * 1024), 64 * 1024),
    maxRoomSize: read('MAX_ROOM_SIZE', integer(2, 1000), 16),
    logLevel: read('LOG_LEVEL', oneOf(LOG_LEVELS), 'info'),
    nodeId: `${env['DYNO'] ?? env['HOSTNAME'] ?? 'node'}-${randomBytes(3).toString('hex')}`,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
