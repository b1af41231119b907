/**
 * The default of every setting, in one object per concern: what the server uses when its
 * environment variable is unset (config.ts validates what is set), and what the cluster core
 * and the protocol adapters use when built without a config (tests, benches). README's
 * Configuration table lists the same values.
 *
 * Server (config.ts):
 *   [PORT=3000]                        HTTP and WebSocket port; 0 picks a free one
 *   [HOST='0.0.0.0']                   interface to bind (Heroku routes to every interface)
 *   [REDIS_PREFIX='sig:']              prefix of every Redis key and channel
 *   [REDIS_TLS_VERIFY=false]           verify rediss:// certificates (Heroku's are self-signed)
 *   [REDIS_COMMAND_TIMEOUT_MS=5000]    a Redis command unanswered this long fails
 *   [MAX_MESSAGE_BYTES=65536]          larger frames close the socket with 1009
 *   [MAX_ROOM_SIZE=8]                  members per room (a full-mesh video call, docs/benchmarks.md)
 *   [LOG_LEVEL='info']                 pino level
 *   [HEARTBEAT_MS=25000]               ping interval; a socket that misses a pong is cut
 *   [RESUME_GRACE_MS=15000]            how long a dropped member may resume (0: never)
 *   [NODE_LEASE_MS=15000]              a dyno silent this long is swept by the others
 *   [HANDOVER_TIMEOUT_MS=1000]         how long a resume waits for the old dyno's hand-over (cluster/handover.ts)
 *   [MAX_HELD_SIGNALS=256]             signals held for one reconnecting member
 *   [MAX_HELD_BYTES=524288]            bytes held for one reconnecting member (at most MAX_BUFFERED_BYTES)
 *   [MAX_SIGNAL_BYTES=24576]           largest signal frame (at most MAX_MESSAGE_BYTES)
 *   [RATE_LIMIT_PER_SEC=50]            messages per second a connection may sustain
 *   [RATE_LIMIT_BURST=200]             messages a connection may send at once
 *   [RATE_LIMIT_BYTES_PER_SEC=131072]  bytes per second a connection may sustain
 *   [RATE_LIMIT_BYTES_BURST=524288]    bytes a connection may send at once (at least MAX_MESSAGE_BYTES)
 *   [MAX_BUFFERED_BYTES=1048576]       unsent bytes after which a non-reading socket is cut
 *   [MAX_CONNECTIONS=40000]            open WebSockets on one dyno (lowered to the open-files limit)
 *   [MAX_JOINS_PER_SEC=1000]           joins one dyno starts per second
 *   [MAX_INFLIGHT_BYTES=33554432]      signal bytes waiting for Redis before the dyno refuses
 *   [MAX_LOOP_LAG_MS=200]              event-loop lag past which the dyno stops reading sockets
 *   [TURN_TTL=86400]                   seconds a minted TURN credential stays valid
 */
export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  redisPrefix: 'sig:',
  redisTlsVerify: false,
  redisCommandTimeoutMs: 5000,
  maxMessageBytes: 64 * 1024,
  maxRoomSize: 8,
  logLevel: 'info',
  heartbeatMs: 25_000,
  resumeGraceMs: 15_000,
  nodeLeaseMs: 15_000,
  handoverTimeoutMs: 1000,
  maxHeldSignals: 256,
  maxHeldBytes: 512 * 1024,
  maxSignalBytes: 24 * 1024,
  rateLimitPerSec: 50,
  rateLimitBurst: 200,
  rateLimitBytesPerSec: 128 * 1024,
  rateLimitBytesBurst: 512 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxConnections: 40_000,
  maxJoinsPerSec: 1000,
  maxInflightBytes: 32 * 1024 * 1024,
  maxLoopLagMs: 200,
  turnTtlSeconds: 86_400,
} as const;

/**
 * Webhooks (webhook-config.ts), used once WEBHOOK_URL and WEBHOOK_SECRET are set:
 *   [WEBHOOK_MAX_AGE_MS=3600000]       an event not accepted by then is dropped (logged, counted)
 *   [WEBHOOK_TIMEOUT_MS=10000]         one POST's deadline
 *   [WEBHOOK_BACKOFF_MS=1000]          delay after the first failure (doubling, with jitter)
 *   [WEBHOOK_BACKOFF_MAX_MS=300000]    longest delay between two attempts
 *   [WEBHOOK_MAX_QUEUED=1000]          events one room's queue holds; past it new ones are dropped
 *   [WEBHOOK_CONCURRENCY=8]            POSTs one dyno has open at once
 *   [WEBHOOK_POLL_MS=500]              how often a dyno looks for events due
 */
export const WEBHOOK_DEFAULTS = {
  maxAgeMs: 3_600_000,
  timeoutMs: 10_000,
  backoffMs: 1000,
  backoffMaxMs: 300_000,
  maxQueued: 1000,
  concurrency: 8,
  pollMs: 500,
} as const;
