/**
 * The store's Lua scripts. Each touches only the keys of one user (all hash-tagged `{<pseudonym>}`,
 * so they live in one Redis Cluster slot) and runs atomically in one round trip.
 */
export const SCRIPTS = {
  /**
   * KEYS: events. ARGV: event JSON, events kept per user, key TTL seconds, the serving bundle's data
   * end (events before it, which the bundle learned from, leave the head of the list). Returns the
   * events now held.
   */
  vitrineAppend: {
    numberOfKeys: 1,
    lua: `redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local ref = tonumber(ARGV[4])
while true do
  local first = redis.call('LINDEX', KEYS[1], 0)
  if not first then break end
  local ok, e = pcall(cjson.decode, first)
  if ok and type(e) == 'table' and type(e.ts) == 'number' and e.ts < ref then redis.call('LPOP', KEYS[1]) else break end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return redis.call('LLEN', KEYS[1])`,
  },
  /**
   * KEYS: events, records, tombstone. ARGV: the serving bundle's data end. Deletes every event and
   * record; returns {events held since the data end, records}, what reads would have shown.
   */
  vitrineForget: {
    numberOfKeys: 3,
    lua: `local n = 0
local ref = tonumber(ARGV[1])
for _, s in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, e = pcall(cjson.decode, s)
  if ok and type(e) == 'table' and type(e.ts) == 'number' and e.ts >= ref then n = n + 1 end
end
local r = redis.call('HLEN', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], '1')
return { n, r }`,
  },
  /**
   * KEYS: records. ARGV: field, record JSON, TTL seconds (the key lives as long as its longest record),
   * now (Unix seconds), the field prefix of the record's kind, most records per kind. Past twice that
   * many fields in all, expired fields go, and of the kind's the soonest to expire beyond the most
   * (never the one just written, even if it expires sooner; a value it cannot read is left alone):
   * without it the hash of a shopper served a promotion every day grows until the key idles out,
   * and every read of the shopper's state reads all of it.
   */
  vitrinePutRecord: {
    numberOfKeys: 1,
    lua: `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('TTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3])) end
local most = tonumber(ARGV[6])
if redis.call('HLEN', KEYS[1]) <= 2 * most then return 1 end
local now, prefix, all, mine = tonumber(ARGV[4]), ARGV[5], redis.call('HGETALL', KEYS[1]), {}
for i = 1, #all, 2 do
  local ok, r = pcall(cjson.decode, all[i + 1])
  local x = ok and type(r) == 'table' and tonumber(r.x) or nil
  if x == nil then
  elseif x <= now then redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] and string.sub(all[i], 1, #prefix) == prefix then table.insert(mine, { all[i], x }) end
end
if #mine >= most then
  table.sort(mine, function(a, b) return a[2] < b[2] end)
  for j = 1, #mine - most + 1 do redis.call('HDEL', KEYS[1], mine[j][1]) end
end
return 1`,
  },
} as const;

/** The commands the scripts add to an ioredis client. */
export interface ScriptCommands {
  vitrineAppend(events: string, json: string, keep: number, ttl: number, referenceTime: number): Promise<number>;
  vitrineForget(events: string, records: string, tombstone: string, referenceTime: number): Promise<[number, number]>;
  vitrinePutRecord(
    records: string,
    field: string,
    json: string,
    ttl: number,
    now: number,
    kindPrefix: string,
    mostPerKind: number,
  ): Promise<number>;
}
