import { Tag } from '../../cluster/bus-codec.ts';

/**
 * All the Lua of the cluster (the webhook queue's own scripts live with it, in
 * webhooks/lua.ts). A room is one hash: field = member name, value = the member record
 * "<seq>|<owner>|<secret hash>|<grace deadline ms, 0 when connected>" followed by the
 * member's info tail "|<joined at ms>|<metadata JSON>" (member-record.ts; every script that
 * rewrites a record keeps its tail, so metadata lasts as long as the membership); the field
 * COUNTER holds the room's join counter. Member names cannot contain control characters, so
 * COUNTER never collides with one. Times come from Redis's clock so dynos need not agree.
 *
 * Every script starts with PRELUDE: the bus tags (interpolated from Tag, so they are spelled
 * once for TypeScript and Lua), the encoders of the payloads scripts publish, and the one
 * Lua parser and writer of the member record.
 */

export const COUNTER_FIELD = '\u0001seq';

/** How long the seqs reserved for members put back in a lost room stay reserved (reregisterScript). */
const RENUMBERING_TTL_MS = 10 * 60_000;
/**
 * How long the tombstone of an ended membership is kept: longer than any dyno may stay cut
 * off (stalled, partitioned) and still try to put the member back.
 */
export const TOMBSTONE_TTL_MS = 24 * 3_600_000;
/** Dead dynos one DEAD_NODES call returns: the sweep takes the rest on its next tick. */
const DEAD_NODES_PER_CALL = 10;

/** `local TAG = { Signal = 'S', ... }`: the bus-codec table, as Lua. */
export const LUA_TAGS = `local TAG = { ${Object.entries(Tag)
  .map(([name, tag]) => `${name} = '${tag}'`)
  .join(', ')} }`;

const PRELUDE = `
${LUA_TAGS}
local function bus_joined(seq, name, suffix) return TAG.Joined .. seq .. ':' .. name .. suffix end
local function bus_renumbered(seq, old, name, suffix) return TAG.Renumbered .. seq .. ':' .. old .. ':' .. name .. suffix end
local function bus_left(seq, name) return TAG.Left .. seq .. ':' .. name end
local function bus_removed(owner) return TAG.Removed .. owner end
-- seq, owner, secret hash, grace deadline (0: connected), info tail ('' or "|<joined at>|<metadata>")
local function parse(v)
  local a = string.find(v, '|', 1, true)
  local b = string.find(v, '|', a + 1, true)
  local c = string.find(v, '|', b + 1, true)
  local d = string.find(v, '|', c + 1, true)
  local grace, tail = tonumber(string.sub(v, c + 1)), ''
  if d then grace, tail = tonumber(string.sub(v, c + 1, d - 1)), string.sub(v, d) end
  return tonumber(string.sub(v, 1, a - 1)), string.sub(v, a + 1, b - 1), string.sub(v, b + 1, c - 1), grace, tail
end
local function record(seq, owner, secret, grace, tail)
  return seq .. '|' .. owner .. '|' .. secret .. '|' .. grace .. tail
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
-- Every way a membership ends leaves a tombstone: a hash (the member's "ended" key) of
-- owner -> "<seq>|<reason>". Re-registration and catch-up respect it, so a dyno that was cut
-- off never brings back a membership that ended.
local function bury(key, owner, seq, reason)
  redis.call('HSET', key, owner, seq .. '|' .. reason)
  redis.call('PEXPIRE', key, ${TOMBSTONE_TTL_MS})
end
-- The reason a tombstone records, or nil when this owner's membership did not end.
local function ended_reason(key, owner)
  local t = redis.call('HGET', key, owner)
  if not t then return nil end
  return string.sub(t, string.find(t, '|', 1, true) + 1)
end
-- The stored secret field: one hash, or "new,previous" while the client has not been
-- proven to hold the new one.
local function secret_matches(stored, given)
  if stored == given then return true end
  local comma = string.find(stored, ',', 1, true)
  return comma ~= nil and (string.sub(stored, 1, comma - 1) == given or string.sub(stored, comma + 1) == given)
end
-- A lost room's renumbering reservation "<base>:<ceiling>" (reregisterScript), or nil.
local function reservation(key)
  local r = redis.call('GET', key)
  local colon = r and string.find(r, ':', 1, true)
  if colon then return tonumber(string.sub(r, 1, colon - 1)), tonumber(string.sub(r, colon + 1)) end
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

/**
 * A script body behind PRELUDE; `counterArg`: the ARGV index holding the counter field, when
 * the caller passes it instead of the constant.
 */
export function script(body: string, counterArg?: number): string {
  const counter = counterArg === undefined ? `local ARGV_COUNTER = '${COUNTER_FIELD}'` : `local ARGV_COUNTER = ARGV[${counterArg}]`;
  return `${counter}\n${PRELUDE}\n${body}`;
}

/** KEYS members; ARGV name, owner, max size, counter, secret hash, info tail -> {-1} taken, {-2} full, {seq, name, value, ...}. */
export const REGISTER = script(
  `
local key, name = KEYS[1], ARGV[1]
if redis.call('HEXISTS', key, name) == 1 then return {-1} end
local size = redis.call('HLEN', key)
if size > 0 then size = size - 1 end
if size >= tonumber(ARGV[3]) then return {-2} end
local seq = redis.call('HINCRBY', key, ARGV[4], 1)
redis.call('HSET', key, name, record(seq, ARGV[2], ARGV[5], 0, ARGV[6]))
return others(key, {seq}, name)
`,
  4,
);

/**
 * The scripts that remove a member announce it themselves (PUBLISH inside the script): a
 * reply lost after the removal (connection drop, command timeout) then cannot mean that
 * peers never hear `peer-left`, and a retry finds nothing to remove and announces nothing.
 * In a Redis Cluster the announcement must be SPUBLISH (see holdScript); the events channel
 * carries the room's hash tag, so it lives on the script's shard.
 */
export type PublishCommand = 'PUBLISH' | 'SPUBLISH';

/** KEYS members, hold, ended; ARGV name, owner, events channel -> removed seq, or -1 when `owner` does not hold it. */
export function unregisterScript(publish: PublishCommand): string {
  return script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner = parse(v)
if owner ~= ARGV[2] then return -1 end
drop(KEYS[1], KEYS[2], ARGV[1])
bury(KEYS[3], owner, seq, 'left')
redis.call('${publish}', ARGV[3], bus_left(seq, ARGV[1]))
return seq
`);
}

/**
 * KEYS members, hold, ended; ARGV name, events channel, member channel -> removed seq, or -1
 * when it is not a member. The server API's removal: whoever holds it, connected or reconnecting.
 * Announced to the room (Tag.Left) and to the holding dyno (Tag.Removed, so it closes the socket
 * with 4001) in the same step, as unregister does.
 */
export function removeScript(publish: PublishCommand): string {
  return script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner = parse(v)
drop(KEYS[1], KEYS[2], ARGV[1])
bury(KEYS[3], owner, seq, 'removed')
redis.call('${publish}', ARGV[2], bus_left(seq, ARGV[1]))
redis.call('${publish}', ARGV[3], bus_removed(owner))
return seq
`);
}

/**
 * KEYS members, hold; ARGV name, owner, grace ms, snapshot ('' for none), hold ttl ms,
 * secret hash ('' keeps the stored one), frames... -> 1 suspended, 0 not owner. Signals held
 * meanwhile (after our unsubscribe) stay behind the snapshot and the frames that reached us
 * before it, in publish order. The secret is replaced only to undo a resume whose reply was
 * lost: the client still holds the secret it resumed with.
 */
export const SUSPEND = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local seq, owner, secret, _, tail = parse(v)
if owner ~= ARGV[2] then return 0 end
if ARGV[6] ~= '' then secret = ARGV[6] end
redis.call('HSET', KEYS[1], ARGV[1], record(seq, owner, secret, now() + tonumber(ARGV[3]), tail))
for i = #ARGV, 7, -1 do redis.call('LPUSH', KEYS[2], ARGV[i]) end
if ARGV[4] ~= '' then redis.call('LPUSH', KEYS[2], ARGV[4]) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 1
`);

/** KEYS members, hold, ended; ARGV name, owner, events channel -> removed seq, or -1 unless still suspended by owner. */
export function expireScript(publish: PublishCommand): string {
  return script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner, secret, grace = parse(v)
if owner ~= ARGV[2] or grace == 0 then return -1 end
drop(KEYS[1], KEYS[2], ARGV[1])
bury(KEYS[3], owner, seq, 'disconnected')
redis.call('${publish}', ARGV[3], bus_left(seq, ARGV[1]))
return seq
`);
}

/**
 * KEYS members, hold; ARGV name, channel, payload, max held, ttl ms, max held bytes.
 * -> 1 delivered (someone subscribes after all), 0 held, -1 no such member, -2 hold full.
 * A connected member (no grace deadline) whose channel had no subscriber lost it with a
 * dropped bus connection, or is being resumed: its frame is always held, never published
 * here, and a drain request (Tag.DrainRequest) is published instead, so its dyno hands the list over
 * before anything published later (a PUBLISH here would land behind newer live signals).
 * In a Redis Cluster the publish must be SPUBLISH: PUBLISH would be broadcast to every node,
 * while the member channel carries the room's hash tag and so lives on the script's shard.
 */
function holdScript(publish: PublishCommand): string {
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
if grace == 0 then redis.call('${publish}', ARGV[2], TAG.DrainRequest) end
return 0
`);
}
export const HOLD = holdScript('PUBLISH');
export const HOLD_SHARDED = holdScript('SPUBLISH');

/**
 * KEYS members, hold, ended; ARGV name, secret hash, new owner, new secret hash.
 * -> {-3} gone, {-1} wrong secret, or {seq, previous owner, 1 if it was not suspended (so it
 * may still hand frames over, see cluster/handover.ts) else 0, #held, held..., name, value, ...}.
 * The secret the client resumed with stays valid beside the new one until the client is
 * known to hold the new one (its connection suspends with only that one, see SUSPEND): a
 * `joined` written into a socket that is already dead must not lock the client out. The
 * replaced connection's membership ended: it gets a tombstone.
 */
export const RESUME = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {-3} end
local seq, owner, secret, grace, tail = parse(v)
if not secret_matches(secret, ARGV[2]) then return {-1} end
redis.call('HSET', KEYS[1], ARGV[1], record(seq, ARGV[3], ARGV[4] .. ',' .. ARGV[2], 0, tail))
if owner ~= ARGV[3] then bury(KEYS[3], owner, seq, 'replaced') end
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local connected = 0
if grace == 0 then connected = 1 end
local out = {seq, owner, connected, #held}
for i = 1, #held do out[#out + 1] = held[i] end
return others(KEYS[1], out, ARGV[1])
`);

/**
 * Puts a member back after the store lost it. KEYS members, ended, renumbering; ARGV name,
 * owner, secret hash, seq, grace ms (0: connected), events channel, highest seq this member
 * knew of, info tail of a record written anew, metadata suffix ("\n<JSON>" or '').
 * -> {0} someone else holds the name; {1, seq, name, value, ...} still there (rewritten, which
 * clears a grace a sweep put on it); {2, new seq, ...} written anew; {-1, reason}: it ended
 * (this owner's tombstone) and is never written back. A member written anew gets a seq above
 * every current member's (a newcomer of the emptied room would drop an event with our old
 * one), announced as Tag.Renumbered "R<new>:<old>:<name>" so that peers knowing the old seq
 * just renumber us. The join order is kept: the first member put back reserves base + 1 ..
 * base + (highest seq it knew) ("base:ceiling", RENUMBERING_TTL_MS), the counter jumps past
 * them, and each member put back takes base + its old seq, or the next free one beyond.
 */
export function reregisterScript(publish: PublishCommand): string {
  return script(`
local key, name, owner = KEYS[1], ARGV[1], ARGV[2]
local grace = tonumber(ARGV[5])
local deadline = 0
if grace > 0 then deadline = now() + grace end
local v = redis.call('HGET', key, name)
if v then
  local seq, holder, _, _, tail = parse(v)
  if holder ~= owner then return {0} end
  redis.call('HSET', key, name, record(seq, owner, ARGV[3], deadline, tail))
  return others(key, {1, seq}, name)
end
local ended = ended_reason(KEYS[2], owner)
if ended then return {-1, ended} end
local old = tonumber(ARGV[4])
local counter = tonumber(redis.call('HGET', key, ARGV_COUNTER) or '0')
local seq = counter + 1
do
  local base, ceiling = reservation(KEYS[3])
  if not base then
    base = counter
    ceiling = counter + math.max(old, tonumber(ARGV[7]))
    redis.call('SET', KEYS[3], base .. ':' .. ceiling, 'PX', ${RENUMBERING_TTL_MS})
  end
  if base + old <= ceiling then seq = base + old end
  if counter < ceiling then counter = ceiling end
end
if counter < seq then counter = seq end
redis.call('HSET', key, ARGV_COUNTER, counter)
redis.call('HSET', key, name, record(seq, owner, ARGV[3], deadline, ARGV[8]))
redis.call('${publish}', ARGV[6], bus_renumbered(seq, old, name, ARGV[9]))
return others(key, {2, seq}, name)
`);
}

/**
 * KEYS members, hold, ended; ARGV name, dead node id, grace ms, owner ('' = any connection
 * of that dyno), events channel. A member of a dead dyno first gets a grace period (its
 * client may resume elsewhere), then is removed, and the removal announced. Its tombstone
 * tells a dyno that was only stalled that the membership ended: it is not put back.
 * -> -1 not that dyno's (or that connection's) any more, -2 kept for now, or the removed seq.
 */
export function sweepMemberScript(publish: PublishCommand): string {
  return script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return -1 end
local seq, owner, secret, grace, tail = parse(v)
if string.sub(owner, 1, #ARGV[2] + 1) ~= ARGV[2] .. '/' then return -1 end
if ARGV[4] ~= '' and owner ~= ARGV[4] then return -1 end
local t = now()
if grace == 0 then
  redis.call('HSET', KEYS[1], ARGV[1], record(seq, owner, secret, t + tonumber(ARGV[3]), tail))
  return -2
end
if grace > t then return -2 end
drop(KEYS[1], KEYS[2], ARGV[1])
bury(KEYS[3], owner, seq, 'dyno-lost')
redis.call('${publish}', ARGV[5], bus_left(seq, ARGV[1]))
return seq
`);
}

/**
 * KEYS leases; ARGV node id, ttl ms: the lease runs until Redis's now + ttl.
 * -> 1 it was still running, 0 it had run out (survivors may have swept us), -1 there was none
 * (first renewal, or the store lost it).
 */
export const RENEW_LEASE = script(`
local t = now()
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[1])
if not before then return -1 end
if tonumber(before) < t then return 0 end
return 1
`);

/** KEYS leases -> ids of dynos whose lease ran out (at most DEAD_NODES_PER_CALL). */
export const DEAD_NODES = script(`
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now(), 'LIMIT', 0, ${DEAD_NODES_PER_CALL})
`);

/**
 * After a dyno's subscriber connection dropped and came back, signals published to its
 * members in between reached nobody and were held (HOLD) as if the member were reconnecting;
 * its socket never dropped, so it never resumes. This hands them over for a connected member
 * `owner` holds, with the room's members, so the core also replays the room changes missed.
 *
 * KEYS members, hold, ended, renumbering, each known peer's tombstone key; ARGV name, owner,
 * counter field, the known peers' names -> {-1, reason}: ended (a notice was missed); {-1}:
 * not ours, reconnecting, or lost (re-registration puts it back); or {#held, held..., base,
 * #pending, pending..., name, value...}: base -1 unless the lost room is being put back (its
 * reservation), and then pending = the known peers neither back nor ended (on their way back).
 */
export const CATCH_UP = script(
  `
local ended = ended_reason(KEYS[3], ARGV[2])
if ended then return {-1, ended} end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {-1} end
local _, owner, _, grace = parse(v)
if owner ~= ARGV[2] or grace ~= 0 then return {-1} end
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local out = {#held}
for i = 1, #held do out[#out + 1] = held[i] end
local base = reservation(KEYS[4])
local pending = {}
for i = 5, base and #KEYS or 0 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i - 1]) == 0 and redis.call('EXISTS', KEYS[i]) == 0 then pending[#pending + 1] = ARGV[i - 1] end
end
out[#out + 1] = base or -1
out[#out + 1] = #pending
for i = 1, #pending do out[#out + 1] = pending[i] end
return others(KEYS[1], out, ARGV[1])
`,
  3,
);

/**
 * KEYS members, ended; ARGV name, owner -> {1} ours, {0} not there (the store lost it), or
 * {-1, reason}: the membership ended. Read-only: asked while the bus cannot tell us.
 */
export const MEMBER_STATUS = script(`
local ended = ended_reason(KEYS[2], ARGV[2])
if ended then return {-1, ended} end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {0} end
local _, owner = parse(v)
if owner == ARGV[2] then return {1} end
return {-1, 'replaced'}
`);
