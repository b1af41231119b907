import { randomBytes } from 'node:crypto';
import type { Parsed } from './env-parsers.ts';
import { encodeSegment } from '../cluster/keys.ts';
import { boolean, integer, keyPrefix, oneOf, origins, redisUrl, secret } from './env-parsers.ts';
import type { RedisClusterSeeds } from './redis-cluster-nodes.ts';
import { redisClusterNodes } from './redis-cluster-nodes.ts';
import type { IceConfig } from '../ice/ice-config.ts';
import { readIceConfig } from '../ice/ice-config.ts';
import type { WebhookConfig } from './webhook-config.ts';
import { readWebhookConfig } from './webhook-config.ts';
import type { AdmissionLimits } from '../transport/admission.ts';
import { DEFAULTS } from './defaults.ts';
import type { ThirdPartyConfig } from './third-party-config.ts';
import { readThirdPartyConfig } from './third-party-config.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Everything the server reads from its environment, validated; defaults in defaults.ts. README lists the same table. */
export interface Config {
  /** PORT; 0 picks a free port (tests). */
  port: number;
  /** HOST. */
  host: string;
  /** REDIS_URL; unset means the embedded single-process backend. */
  redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES: seeds of a Redis Cluster (sharded pub/sub); excludes REDIS_URL. */
  redisCluster: RedisClusterSeeds | undefined;
  /** REDIS_PREFIX: every key and channel starts with it. */
  redisPrefix: string;
  /** REDIS_TLS_VERIFY: verify rediss:// certificates (Heroku's are self-signed). */
  redisTlsVerify: boolean;
  /** REDIS_COMMAND_TIMEOUT_MS: a Redis command unanswered this long fails. */
  redisCommandTimeoutMs: number;
  /** MAX_MESSAGE_BYTES: larger frames close the socket with 1009. */
  maxMessageBytes: number;
  /** MAX_ROOM_SIZE: joins beyond it get room-full. */
  maxRoomSize: number;
  /** LOG_LEVEL. */
  logLevel: (typeof LOG_LEVELS)[number];
  /** NODE_ENV === 'production' (JSON logs, no localhost origins by default). */
  production: boolean;
  /** HEARTBEAT_MS: ping interval; a socket that misses a pong is cut. */
  heartbeatMs: number;
  /** RESUME_GRACE_MS: how long a dropped member may resume (0 = never). */
  resumeGraceMs: number;
  /** NODE_LEASE_MS: a dyno silent this long is swept by the others. */
  nodeLeaseMs: number;
  /** HANDOVER_TIMEOUT_MS: how long a resume waits for the old dyno's hand-over (cluster/handover.ts). */
  handoverTimeoutMs: number;
  /** MAX_HELD_SIGNALS: signals held for one reconnecting member. */
  maxHeldSignals: number;
  /** ALLOWED_ORIGINS: comma-separated origins; unset = same origin (+ localhost outside production). */
  allowedOrigins: string[] | undefined;
  /** TOKEN_SECRET: when set, join needs an HS256 token binding room, name and exp. */
  tokenSecret: string | undefined;
  /** API_KEY: when set (>= 32 chars), the server API (src/api/) answers Bearer requests carrying it. */
  apiKey: string | undefined;
  /** RATE_LIMIT_PER_SEC: messages per second a connection may sustain. */
  rateLimitPerSec: number;
  /** RATE_LIMIT_BURST: messages a connection may send at once. */
  rateLimitBurst: number;
  /** MAX_BUFFERED_BYTES: unsent bytes after which a non-reading socket is cut. */
  maxBufferedBytes: number;
  /**
   * MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP and CONNECTIONS_PER_IP_PER_MIN (unset: off),
   * MAX_JOINS_PER_SEC: admission control (src/transport/admission.ts).
   */
  admission: AdmissionLimits;
  /** MAX_HELD_BYTES: bytes held for one reconnecting member (besides the count). */
  maxHeldBytes: number;
  /** MAX_SIGNAL_BYTES: largest signal frame (a 16 KB SDP and its envelope fit). */
  maxSignalBytes: number;
  /** RATE_LIMIT_BYTES_PER_SEC: bytes per second a connection may sustain. */
  rateLimitBytesPerSec: number;
  /** RATE_LIMIT_BYTES_BURST: bytes a connection may send at once. */
  rateLimitBytesBurst: number;
  /** MAX_INFLIGHT_BYTES: signal bytes waiting for Redis before the dyno refuses. */
  maxInflightBytes: number;
  /** MAX_LOOP_LAG_MS: event-loop lag past which the dyno stops reading sockets. */
  maxLoopLagMs: number;
  /** STUN_URLS, TURN_URLS, TURN_SECRET, TURN_TTL, ICE_SERVERS: what `joined.iceServers` holds (src/ice/). */
  ice: IceConfig;
  /** WEBHOOK_URL + WEBHOOK_SECRET and the WEBHOOK_* tuning (src/webhooks/); unset: no webhooks. */
  webhook: WebhookConfig | undefined;
  /** Identifies this dyno: DYNO (set by Heroku) or the host name, plus a random suffix. */
  nodeId: string;
  /** PEERJS*, YWEBRTC*: the PeerJS and y-webrtc endpoints (src/config/third-party-config.ts). */
  thirdParty: ThirdPartyConfig;
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

const SECRET_VARIABLES = new Set(['TOKEN_SECRET', 'API_KEY', 'REDIS_CLUSTER_NODES']);

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  function read<T>(name: string, parse: (raw: string) => Parsed<T>, fallback: T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    // Startup errors go to the log drain: never echo a secret, even a rejected one.
    const shown = SECRET_VARIABLES.has(name) ? `(${raw.length} characters, not shown)` : JSON.stringify(raw.slice(0, 80));
    problems.push(`${name}=${shown} ${parsed.problem}`);
    return fallback;
  }
  const config: Config = {
    port: read('PORT', integer(0, 65535), DEFAULTS.port),
    host: read('HOST', (raw) => ({ ok: true, value: raw.trim() }), DEFAULTS.host),
    redisUrl: read<string | undefined>('REDIS_URL', redisUrl, undefined),
    redisCluster: read<RedisClusterSeeds | undefined>('REDIS_CLUSTER_NODES', redisClusterNodes, undefined),
    redisPrefix: read('REDIS_PREFIX', keyPrefix, DEFAULTS.redisPrefix),
    redisTlsVerify: read('REDIS_TLS_VERIFY', boolean, DEFAULTS.redisTlsVerify),
    redisCommandTimeoutMs: read('REDIS_COMMAND_TIMEOUT_MS', integer(100, 60_000), DEFAULTS.redisCommandTimeoutMs),
    maxMessageBytes: read('MAX_MESSAGE_BYTES', integer(256, 16 * 1024 * 1024), DEFAULTS.maxMessageBytes),
    maxRoomSize: read('MAX_ROOM_SIZE', integer(2, 1000), DEFAULTS.maxRoomSize),
    logLevel: read('LOG_LEVEL', oneOf(LOG_LEVELS), DEFAULTS.logLevel),
    production: env['NODE_ENV'] === 'production',
    heartbeatMs: read('HEARTBEAT_MS', integer(100, 600_000), DEFAULTS.heartbeatMs),
    resumeGraceMs: read('RESUME_GRACE_MS', integer(0, 600_000), DEFAULTS.resumeGraceMs),
    nodeLeaseMs: read('NODE_LEASE_MS', integer(300, 600_000), DEFAULTS.nodeLeaseMs),
    handoverTimeoutMs: read('HANDOVER_TIMEOUT_MS', integer(10, 60_000), DEFAULTS.handoverTimeoutMs),
    maxHeldSignals: read('MAX_HELD_SIGNALS', integer(1, 100_000), DEFAULTS.maxHeldSignals),
    allowedOrigins: read<string[] | undefined>('ALLOWED_ORIGINS', origins, undefined),
    tokenSecret: read<string | undefined>('TOKEN_SECRET', secret, undefined),
    apiKey: read<string | undefined>('API_KEY', secret, undefined),
    rateLimitPerSec: read('RATE_LIMIT_PER_SEC', integer(1, 1_000_000), DEFAULTS.rateLimitPerSec),
    rateLimitBurst: read('RATE_LIMIT_BURST', integer(1, 1_000_000), DEFAULTS.rateLimitBurst),
    maxBufferedBytes: read('MAX_BUFFERED_BYTES', integer(1024, 1024 * 1024 * 1024), DEFAULTS.maxBufferedBytes),
    admission: {
      maxConnections: read('MAX_CONNECTIONS', integer(1, 10_000_000), DEFAULTS.maxConnections),
      // Opt-in: a whole office or campus can share one address.
      maxConnectionsPerIp: read<number | undefined>('MAX_CONNECTIONS_PER_IP', integer(1, 10_000_000), undefined),
      connectionsPerIpPerMin: read<number | undefined>('CONNECTIONS_PER_IP_PER_MIN', integer(1, 10_000_000), undefined),
      maxJoinsPerSec: read('MAX_JOINS_PER_SEC', integer(1, 1_000_000), DEFAULTS.maxJoinsPerSec),
    },
    // 0 until the defaults are settled below: they follow the frame and buffer limits they must agree with.
    maxHeldBytes: read('MAX_HELD_BYTES', integer(1024, 64 * 1024 * 1024), 0),
    maxSignalBytes: read('MAX_SIGNAL_BYTES', integer(256, 16 * 1024 * 1024), 0),
    rateLimitBytesPerSec: read('RATE_LIMIT_BYTES_PER_SEC', integer(1024, 1024 * 1024 * 1024), DEFAULTS.rateLimitBytesPerSec),
    rateLimitBytesBurst: read('RATE_LIMIT_BYTES_BURST', integer(1024, 1024 * 1024 * 1024), 0),
    // 32 MiB of frames costs a few times that in strings, parsed objects and ioredis commands:
    // about 150 MB at the bound (docs/benchmarks.md), which leaves a 512 MB dyno its members.
    maxInflightBytes: read('MAX_INFLIGHT_BYTES', integer(64 * 1024, 4 * 1024 * 1024 * 1024), DEFAULTS.maxInflightBytes),
    maxLoopLagMs: read('MAX_LOOP_LAG_MS', integer(10, 60_000), DEFAULTS.maxLoopLagMs),
    ice: readIceConfig(env, problems),
    webhook: readWebhookConfig(env, problems),
    // Node ids appear in keys and owner tags ("<node>/<conn>"): keep them to safe characters.
    nodeId: encodeSegment(`${env['DYNO'] ?? env['HOSTNAME'] ?? 'node'}-${randomBytes(3).toString('hex')}`),
    // Only whether TOKEN_SECRET is set matters here; a malformed one is reported above.
    thirdParty: readThirdPartyConfig(env, problems, env['TOKEN_SECRET'] || undefined),
  };
  if (config.redisUrl && config.redisCluster) {
    problems.push(
      'REDIS_URL and REDIS_CLUSTER_NODES are both set: unset REDIS_URL to use the Redis Cluster, or REDIS_CLUSTER_NODES to use one Redis',
    );
  }
  config.maxHeldBytes ||= Math.min(DEFAULTS.maxHeldBytes, config.maxBufferedBytes);
  config.maxSignalBytes ||= Math.min(DEFAULTS.maxSignalBytes, config.maxMessageBytes);
  config.rateLimitBytesBurst ||= Math.max(DEFAULTS.rateLimitBytesBurst, config.maxMessageBytes);
  if (config.maxSignalBytes > config.maxMessageBytes) {
    problems.push(
      `MAX_SIGNAL_BYTES (${config.maxSignalBytes}) is larger than MAX_MESSAGE_BYTES (${config.maxMessageBytes}): no frame could reach it; lower it or raise MAX_MESSAGE_BYTES`,
    );
  }
  if (config.rateLimitBytesBurst < config.maxMessageBytes) {
    problems.push(
      `RATE_LIMIT_BYTES_BURST (${config.rateLimitBytesBurst}) is smaller than MAX_MESSAGE_BYTES (${config.maxMessageBytes}): the largest allowed frame would always be rate-limited`,
    );
  }
  if (config.maxHeldBytes > config.maxBufferedBytes) {
    problems.push(
      `MAX_HELD_BYTES (${config.maxHeldBytes}) is larger than MAX_BUFFERED_BYTES (${config.maxBufferedBytes}): a resume replaying a full hold would overflow the socket buffer`,
    );
  }
  if (config.maxInflightBytes < config.maxSignalBytes * 4) {
    problems.push(
      `MAX_INFLIGHT_BYTES (${config.maxInflightBytes}) is under four signals of MAX_SIGNAL_BYTES (${config.maxSignalBytes}): the dyno would refuse almost everything`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
