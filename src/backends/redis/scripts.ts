/**
 * Lua scripts that make membership changes atomic. A room is one hash: field = member name,
 * value = "<seq>|<owner>|<secret hash>|<grace deadline ms, 0 when connected>"; the field
 * COUNTER holds the room's join counter. Member names cannot contain control characters, so
 * COUNTER never collides with one. Times come from Redis's clock so dynos need not agree.
 */

export const COUNTER_FIELD = '\u0001seq';

const PRELUDE = `
local function parse(v)
  local a = string.find(v, '|', 1, true)
  local b = string.find(v, '|', a + 1, true)
  local c = string.find(v, '|', b + 1, true)
  return tonumber(string.sub(v, 1, a - 1)), string.sub(v, a + 1, b - 1), string.sub(v, b + 1, c - 1), tonumber(string.sub(v, c + 1))
end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop(key, hold, name)
  redis.call('HDEL', key, name)
  redis.call('DEL', hold)
  if redis.call('HLEN', key) <= 1 then redis.call('DEL', key) end
end
local function others(key, out, except)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= ARGV_COUNTER and all[i] ~= except then
      out[#out + 1] = all[i]
      out[#out + 1] = all[i + 1]
    end
  end
  return out
end
`;

function script(body: string, counterArg?: number): string {
  const counter = counterArg === undefined ? `local ARGV_COUNTER = '${COUNTER_FIELD}'` : `local ARGV_COUNTER = ARGV[${counterArg}]`;
  return `${counter}\n${PRELUDE}\n${body}`;
}

/** KEYS members; ARGV name, owner, max size, counter, secret hash -> {-1} taken, {-2} full, {seq, name, value, ...}. */
export const REGISTER = script(
  `
local key, name = KEYS[1], ARGV[1]
if redis.call('HEXISTS', key, name) == 1 then return {-1} end
local size = redis.call('HLEN', key)
if size > 0 then size = size - 1 end
if size >= tonumber(ARGV[3]) then return {-2} end
local seq = redis.call('HINCRBY', key, ARGV[4], 1)
redis.call('HSET', key, name, seq .. '|' .. ARGV[2] .. '|' .. ARGV[5] .. '|0')
return others(key, {seq}, name)
`,
  4,
);

/** KEYS members, hold; ARGV name, owner -> removed seq, or -1 when `owner` does not hold it. */
export const UNREGISTER = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner = parse(v)
if owner ~= ARGV[2] then return -1 end
drop(KEYS[1], KEYS[2], ARGV[1])
return seq
`);

/**
 * KEYS members, hold; ARGV name, owner, grace ms, snapshot, hold ttl ms, frames...
 * -> 1 suspended, 0 not owner. Signals held meanwhile (after our unsubscribe) stay behind the
 * snapshot and the frames that reached us before it, in publish order.
 */
export const SUSPEND = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local seq, owner, secret = parse(v)
if owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], seq .. '|' .. owner .. '|' .. secret .. '|' .. (now() + tonumber(ARGV[3])))
for i = #ARGV, 6, -1 do redis.call('LPUSH', KEYS[2], ARGV[i]) end
redis.call('LPUSH', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`);

/** KEYS members, hold; ARGV name, owner -> removed seq, or -1 unless still suspended by owner. */
export const EXPIRE = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner, secret, grace = parse(v)
if owner ~= ARGV[2] or grace == 0 then return -1 end
drop(KEYS[1], KEYS[2], ARGV[1])
return seq
`);

/**
 * KEYS members, hold; ARGV name, channel, payload, max held, ttl ms, max held bytes.
 * -> 1 delivered (someone subscribes after all), 0 held, -1 no such member, -2 hold full.
 * A connected member (no grace deadline) whose channel had no subscriber lost it with a
 * dropped bus connection, or is being resumed: its frame is always held, never published
 * here, and a drain request ('D') is published instead, so its dyno hands the list over
 * before anything published later (a PUBLISH here would land behind newer live signals).
 * In a Redis Cluster the publish must be SPUBLISH: PUBLISH would be broadcast to every node,
 * while the member channel carries the room's hash tag and so lives on the script's shard.
 */
function holdScript(publish: 'PUBLISH' | 'SPUBLISH'): string {
  return script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local _, _, _, grace = parse(v)
if grace ~= 0 and redis.call('${publish}', ARGV[2], ARGV[3]) > 0 then return 1 end
-- One slot more than the limit: the first entry is usually the peers snapshot.
if redis.call('LLEN', KEYS[2]) > tonumber(ARGV[4]) then return -2 end
-- The byte cap (ARGV[6]) walks the list: only the hold path pays, and the list is short.
local total = #ARGV[3]
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do total = total + #entry end
if total > tonumber(ARGV[6]) then return -2 end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if grace == 0 then redis.call('${publish}', ARGV[2], 'D') end
return 0
`);
}
export const HOLD = holdScript('PUBLISH');
export const HOLD_SHARDED = holdScript('SPUBLISH');

/**
 * KEYS members, hold; ARGV name, secret hash, new owner, new secret hash.
 * -> {-3} gone, {-1} wrong secret, or {seq, previous owner, #held, held..., name, value, ...}.
 */
export const RESUME = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {-3} end
local seq, owner, secret = parse(v)
if secret ~= ARGV[2] then return {-1} end
redis.call('HSET', KEYS[1], ARGV[1], seq .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|0')
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local out = {seq, owner, #held}
for i = 1, #held do out[#out + 1] = held[i] end
return others(KEYS[1], out, ARGV[1])
`);

/** KEYS members; ARGV name, value, seq -> 1 registered (or still ours), 0 someone else holds the name. */
export const REREGISTER = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local _, owner = parse(v)
  local _, mine = parse(ARGV[2])
  if owner ~= mine then return 0 end
end
-- Gone, or still ours: (re)write it, which also clears any grace a sweep put on it while
-- this dyno was cut off.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local counter = tonumber(redis.call('HGET', KEYS[1], ARGV_COUNTER) or '0')
if counter < tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], ARGV_COUNTER, ARGV[3]) end
return 1
`);

/**
 * KEYS members, hold; ARGV name, dead node id, grace ms. A member of a dead dyno first gets a
 * grace period (its client may resume elsewhere), then is removed.
 * -> -1 not that dyno's any more, -2 kept for now, or the removed seq.
 */
export const SWEEP_MEMBER = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner, secret, grace = parse(v)
if string.sub(owner, 1, #ARGV[2] + 1) ~= ARGV[2] .. '/' then return -1 end
local t = now()
if grace == 0 then
  redis.call('HSET', KEYS[1], ARGV[1], seq .. '|' .. owner .. '|' .. secret .. '|' .. (t + tonumber(ARGV[3])))
  return -2
end
if grace > t then return -2 end
drop(KEYS[1], KEYS[2], ARGV[1])
return seq
`);

/** KEYS leases; ARGV node id, ttl ms: the lease runs until Redis's now + ttl. */
export const RENEW_LEASE = script(`
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2]), ARGV[1])
return 1
`);

/** KEYS leases -> ids of dynos whose lease ran out (at most 10 per call). */
export const DEAD_NODES = script(`
local t = redis.call('TIME')
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 'LIMIT', 0, 10)
`);
