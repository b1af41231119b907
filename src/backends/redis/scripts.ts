/**
 * Lua scripts that make membership changes atomic. A room is one hash: field = member name,
 * value = "<seq>|<owner>"; the field COUNTER holds the room's join counter. Member names
 * cannot contain control characters, so COUNTER can never collide with one.
 */

export const COUNTER_FIELD = '\u0001seq';

/**
 * KEYS[1] room hash; ARGV name, owner, max room size, counter field.
 * Returns {-1} name taken, {-2} room full, or {seq, name1, value1, ...} for the others.
 */
export const REGISTER = `
local key, name = KEYS[1], ARGV[1]
if redis.call('HEXISTS', key, name) == 1 then return {-1} end
local size = redis.call('HLEN', key)
if size > 0 then size = size - 1 end
if size >= tonumber(ARGV[3]) then return {-2} end
local seq = redis.call('HINCRBY', key, ARGV[4], 1)
local all = redis.call('HGETALL', key)
redis.call('HSET', key, name, seq .. '|' .. ARGV[2])
local out = {seq}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[4] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`;

/**
 * KEYS[1] room hash; ARGV name, owner. Removes the member only if `owner` still holds it,
 * so a late leave never removes a newer registration. Returns the removed seq or -1.
 * The hash goes when only the counter is left, so empty rooms cost nothing.
 */
export const UNREGISTER = `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return -1 end
local bar = string.find(value, '|', 1, true)
if string.sub(value, bar + 1) ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) <= 1 then redis.call('DEL', KEYS[1]) end
return tonumber(string.sub(value, 1, bar - 1))
`;
