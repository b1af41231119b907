/**
 * Lua for the Redis webhook queue. Room scripts touch only the room's keys (its hash tag), so
 * on a Redis Cluster each runs whole on the room's shard; shard scripts touch one shard key.
 * Times come from Redis's clock, so dynos need not agree on theirs.
 */

const NOW = `
local function wh_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function wh_int(x) return string.format('%.0f', x) end
`;

/**
 * Wraps a membership script (cluster-side source in backends/redis/scripts.ts, unchanged) so
 * the same atomic call also appends the resulting events to the room's outbox. The caller
 * appends KEYS members, outbox, meta and ARGV kind ('join'|'leave'), name, reason, max
 * queued, ttl ms; they are read from the end, so the wrapped script's own KEYS and ARGV keep
 * their positions. What counts as the change, by the wrapped script's reply: join, a table
 * whose first element is a positive seq (REGISTER); leave, a positive number (the removed
 * seq). Everything else (taken, full, not owner) emits nothing.
 */
export function withWebhookEvents(source: string): string {
  return `local function wh_membership()
${source}
end
${NOW}
local wh_members, wh_out, wh_meta = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS]
local wh_kind, wh_name, wh_reason = ARGV[#ARGV - 4], ARGV[#ARGV - 3], ARGV[#ARGV - 2]
local wh_cap, wh_ttl = tonumber(ARGV[#ARGV - 1]), ARGV[#ARGV]
local function wh_emit(kind, name, reason)
  local t = wh_now()
  local seq = math.max(tonumber(redis.call('HGET', wh_meta, 'seq') or '0') + 1, t)
  redis.call('HSET', wh_meta, 'seq', wh_int(seq))
  redis.call('PEXPIRE', wh_meta, wh_ttl)
  if redis.call('LLEN', wh_out) >= wh_cap then
    redis.call('HINCRBY', wh_meta, 'lost', 1)
    return
  end
  redis.call('RPUSH', wh_out, wh_int(seq) .. '\\n' .. wh_int(t) .. '\\n' .. kind .. '\\n' .. reason .. '\\n' .. name)
  redis.call('PEXPIRE', wh_out, wh_ttl)
end
local wh_existed = redis.call('EXISTS', wh_members)
local wh_reply = wh_membership()
local wh_first = type(wh_reply) == 'table' and tonumber(wh_reply[1]) or 0
if wh_kind == 'join' and wh_first > 0 then
  if wh_existed == 0 then wh_emit('room.started', '', '') end
  wh_emit('member.joined', wh_name, '')
elseif wh_kind == 'leave' and type(wh_reply) == 'number' and wh_reply > 0 then
  wh_emit('member.left', wh_name, wh_reason)
  if redis.call('EXISTS', wh_members) == 0 then wh_emit('room.finished', '', '') end
end
return wh_reply
`;
}

/**
 * KEYS outbox, meta; ARGV owner, lease ms, max age ms, ttl ms
 * -> {code, delay or attempts, lost, head or '', expired heads...}; code 0 empty, 1 wait, 2 claimed.
 */
export const CLAIM = `${NOW}
local out, meta = KEYS[1], KEYS[2]
local t = wh_now()
local lost = tonumber(redis.call('HGET', meta, 'lost') or '0')
if lost > 0 then redis.call('HDEL', meta, 'lost') end
local lease = tonumber(redis.call('HGET', meta, 'lease') or '0')
if lease > t and redis.call('HGET', meta, 'owner') ~= ARGV[1] then return {1, lease - t, lost, ''} end
local reply = {0, 0, lost, ''}
local head
for i = 1, 100 do
  head = redis.call('LINDEX', out, 0)
  if not head then return reply end
  local at = tonumber(string.match(head, '^%d+\\n(%d+)\\n'))
  if at and t - at <= tonumber(ARGV[3]) then break end
  redis.call('LPOP', out)
  redis.call('HDEL', meta, 'att', 'next')
  reply[#reply + 1] = head
  head = nil
end
if not head then
  reply[1], reply[2] = 1, 0
  return reply
end
local nxt = tonumber(redis.call('HGET', meta, 'next') or '0')
if nxt > t then
  reply[1], reply[2] = 1, nxt - t
  return reply
end
redis.call('HSET', meta, 'lease', wh_int(t + tonumber(ARGV[2])), 'owner', ARGV[1])
redis.call('PEXPIRE', meta, ARGV[4])
reply[1], reply[2], reply[4] = 2, tonumber(redis.call('HGET', meta, 'att') or '0'), head
return reply
`;

const HEAD_IS = `local head = redis.call('LINDEX', KEYS[1], 0)
local is_head = head and string.sub(head, 1, #ARGV[2] + 1) == ARGV[2] .. '\\n'
local function wh_unlease()
  if redis.call('HGET', KEYS[2], 'owner') == ARGV[1] then redis.call('HDEL', KEYS[2], 'lease', 'owner') end
end
`;

/** KEYS outbox, meta; ARGV owner, seq -> events left. */
export const ACK = `${HEAD_IS}
if is_head then
  redis.call('LPOP', KEYS[1])
  redis.call('HDEL', KEYS[2], 'att', 'next')
end
wh_unlease()
return redis.call('LLEN', KEYS[1])
`;

/** KEYS outbox, meta; ARGV owner, seq, delay ms -> 1. */
export const RETRY = `${NOW}
${HEAD_IS}
if is_head then
  redis.call('HINCRBY', KEYS[2], 'att', 1)
  redis.call('HSET', KEYS[2], 'next', wh_int(wh_now() + tonumber(ARGV[3])))
end
wh_unlease()
return 1
`;

/** KEYS outbox, meta; ARGV owner -> 1. */
export const RELEASE = `if redis.call('HGET', KEYS[2], 'owner') == ARGV[1] then redis.call('HDEL', KEYS[2], 'lease', 'owner') end
return 1
`;

/**
 * KEYS due, touched (one shard); ARGV room, delay ms, touch (1|0): the room is due at Redis's
 * now + delay; a touch (before a membership script) also records when it was last touched.
 */
export const SCHEDULE = `${NOW}
local t = wh_now()
redis.call('ZADD', KEYS[1], wh_int(t + tonumber(ARGV[2])), ARGV[1])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], wh_int(t), ARGV[1]) end
return 1
`;

/** KEYS due; ARGV limit -> rooms due now. */
export const DUE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', wh_int(wh_now()), 'LIMIT', 0, tonumber(ARGV[1]))
`;

/**
 * KEYS due, touched; ARGV room, quiet ms: the caller found the room's outbox empty. Unlist it
 * unless it was touched within `quiet` ms; then look again once that is over. A dyno touches
 * a room before each membership script, so a room whose event is being appended right now is
 * never unlisted (the outbox is in another slot: this stands in for an atomic "empty, unlist").
 */
export const FORGET = `${NOW}
local t = wh_now()
local touched = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if touched > t - tonumber(ARGV[2]) then
  -- Look again later, but never later than a due time set meanwhile (a new event's touch).
  local due = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
  local again = touched + tonumber(ARGV[2])
  if due == 0 or due > again then due = again end
  redis.call('ZADD', KEYS[1], wh_int(due), ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;
