"""The Lua scripts that make each step atomic in Redis (Redis runs one script at a time).

Keys (all under the cluster's namespace, ``chat:`` by default):

* ``ids``: the cluster-wide message id counter.
* ``room:<R>`` and ``user:<U>``: the channels a room's and a user's events are published on.
* ``room:<R>:sessions`` (user -> sessions in the room, over every process) and
  ``room:<R>:users`` (user -> their JSON, for online lists).
* ``online:sessions`` and ``online:users``: the same, site-wide.
* ``node:<P>:rooms`` (``"<R>\\t<U>"`` -> sessions) and ``node:<P>:online`` (user -> sessions):
  what process P contributed, so that its death can be undone.
* ``node:<P>:alive``: refreshed by P, with a short lifetime; ``nodes``: every known process.
* ``rate:<W>:<K>``: a sliding window's events for key K (:mod:`cluster.throttle`), a sorted set
  of one unique member per event scored by Redis's clock in milliseconds, expiring when the newest
  event leaves the window; ``flag:<F>:<K>``: a flag with a lifetime (a login's known address).

Payloads are JSON built by the caller; a script that numbers a message
splices ``"id":<n>,`` in after the opening brace. A room's posts numbered
together (:data:`NUMBER_POSTS`) are published as one burst of client frames,
in id order (:mod:`cluster.posts`): one publication, one wake-up of each
subscriber, and nothing for a receiver to decode and encode again.
"""

from __future__ import annotations

APPEND = """
-- KEYS: ids, channel...   ARGV: payload (a JSON object)
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local id = redis.call('INCR', KEYS[1])
local payload = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
for i = 2, #KEYS do redis.call('PUBLISH', KEYS[i], payload) end
return id
"""

NUMBER_POSTS = """
-- KEYS: ids, channel   ARGV: origin, then each post's frame without its id (a JSON object)
-- Number the posts, consecutive ids in ARGV's order, and publish them as one burst (cluster/posts.py).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = #ARGV - 1
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
local parts = {'P' .. ARGV[1] .. ' ' .. first}
for i = 1, n do
  parts[i + 1] = '{"id":' .. (first + i - 1) .. ',' .. string.sub(ARGV[i + 1], 2)
end
redis.call('PUBLISH', KEYS[2], table.concat(parts, '\\n'))
return first
"""

DELIVERED = """
-- KEYS: online:sessions   ARGV: user id
return tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') > 0 and 1 or 0
"""

INIT_IDS = """
-- KEYS: ids   ARGV: floor. Sets the counter only when Redis has lost it (or never had it).
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""

JOIN = """
-- KEYS: room sessions, room users, node rooms, channel
-- ARGV: user id, user JSON, node field, notice payload ('' for none)
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
if n == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  if ARGV[4] ~= '' then redis.call('PUBLISH', KEYS[4], ARGV[4]) end
end
return {n, redis.call('HVALS', KEYS[2])}
"""

LEAVE = """
-- KEYS: room sessions, room users, node rooms, channel
-- ARGV: user id, node field, notice payload
local left = redis.call('HINCRBY', KEYS[3], ARGV[2], -1)
if left < 0 then redis.call('HDEL', KEYS[3], ARGV[2]) return -1 end
if left == 0 then redis.call('HDEL', KEYS[3], ARGV[2]) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('PUBLISH', KEYS[4], ARGV[3])
end
return n
"""

ONLINE = """
-- KEYS: online sessions, online users, node online, control channel, pending offline (sorted set)
-- ARGV: user id, user JSON, +1 or -1, grace in ms ('0': none)
-- The first session anywhere and the last publish the user's presence change, in the order they ran. A last
-- one with a grace publishes nothing yet: it is pending until its deadline (SETTLE_OFFLINE, SWEEP_OFFLINE).
local left = redis.call('HINCRBY', KEYS[3], ARGV[1], tonumber(ARGV[3]))
if left <= 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end
if left < 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[3]))
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  if tonumber(ARGV[4]) > 0 then
    local t = redis.call('TIME')
    redis.call('ZADD', KEYS[5], t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[4]), ARGV[2])
  else
    redis.call('PUBLISH', KEYS[4], '{"order":"presence","online":false,"user":' .. ARGV[2] .. '}')
  end
elseif n == 1 and tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('PUBLISH', KEYS[4], '{"order":"presence","online":true,"user":' .. ARGV[2] .. '}')
end
return n
"""

SETTLE_OFFLINE = """
-- KEYS: online sessions, control channel, pending offline   ARGV: user id, user JSON
-- A grace ran out: the user went offline, unless a session of theirs came back meanwhile (on any process),
-- or a later grace of theirs is still running, or a sweep said it already.
local due = redis.call('ZSCORE', KEYS[3], ARGV[2])
if not due then return 0 end
local t = redis.call('TIME')
if tonumber(due) > t[1] * 1000 + math.floor(t[2] / 1000) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') > 0 then return 0 end
redis.call('PUBLISH', KEYS[2], '{"order":"presence","online":false,"user":' .. ARGV[2] .. '}')
return 1
"""

SWEEP_OFFLINE = """
-- KEYS: online sessions, control channel, pending offline   ARGV: margin in ms
-- Graces overdue by more than the margin, whose process stopped before it could say so: said here, once.
local t = redis.call('TIME')
local cutoff = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[1])
local said = 0
for _, who in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff, 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[3], who)
  local user_id = cjson.decode(who)['user_id']
  if tonumber(redis.call('HGET', KEYS[1], user_id) or '0') <= 0 then
    redis.call('PUBLISH', KEYS[2], '{"order":"presence","online":false,"user":' .. who .. '}')
    said = said + 1
  end
end
return said
"""

REAP = """
-- KEYS: nodes, node rooms, node online, node alive   ARGV: node id, '1' to reap even a live process, namespace
-- Undo everything a dead process contributed, publishing one leave per user gone from a room.
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local leaves = 0
local rooms = redis.call('HGETALL', KEYS[2])
for i = 1, #rooms, 2 do
  local tab = string.find(rooms[i], '\\t', 1, true)
  local room, user = string.sub(rooms[i], 1, tab - 1), string.sub(rooms[i], tab + 1)
  local ns = ARGV[3]
  local sessions = ns .. ':room:' .. room .. ':sessions'
  local users = ns .. ':room:' .. room .. ':users'
  local n = redis.call('HINCRBY', sessions, user, -tonumber(rooms[i + 1]))
  if n <= 0 then
    local who = redis.call('HGET', users, user)
    redis.call('HDEL', sessions, user)
    redis.call('HDEL', users, user)
    if who then
      redis.call('PUBLISH', ns .. ':room:' .. room,
        '{"k":"notice","event":"leave","room_id":' .. cjson.encode(room) .. ',"user":' .. who .. ',"ts":' .. now .. '}')
      leaves = leaves + 1
    end
  end
end
local ns = ARGV[3]
local online = redis.call('HGETALL', KEYS[3])
for i = 1, #online, 2 do
  local n = redis.call('HINCRBY', ns .. ':online:sessions', online[i], -tonumber(online[i + 1]))
  if n <= 0 then
    local who = redis.call('HGET', ns .. ':online:users', online[i])
    redis.call('HDEL', ns .. ':online:sessions', online[i])
    redis.call('HDEL', ns .. ':online:users', online[i])
    if who then
      redis.call('PUBLISH', ns .. ':control', '{"order":"presence","online":false,"user":' .. who .. '}')
    end
  end
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
return leaves
"""

TAKE = """
-- KEYS: window 1..n, then optionally a flag   ARGV: member, n, then limit and span (ms) of each window
-- Count ``member`` now in every window, or in none when one is full: {0, i, ms until the first
-- window i that is full frees a place} or {1, windows counted, 0}. While the flag exists, the last
-- window is neither checked nor counted (a login from an address the account is known at).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
if #KEYS > n and redis.call('EXISTS', KEYS[n + 1]) == 1 then n = n - 1 end
for i = 1, n do
  local limit, span = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
    return {0, i, span - (now - oldest)}
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return {1, n, 0}
"""

RECORD = """
-- KEYS: window   ARGV: member, limit, span (ms)
-- Count an event whatever the count (a login body that could not be read). Past the limit only the
-- newest ``limit`` events are kept: a place frees when the oldest of those leaves the window.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

GIVE_BACK = """
-- KEYS: window...   ARGV: member
-- Take back the places ``member`` took (an attempt that was not checked after all).
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
"""

SETTLE = """
-- KEYS: window 1..n, a window to empty, a flag   ARGV: member, the flag's lifetime (ms)
-- An attempt that turned out fine: its places back, one window emptied, the flag set (a login that
-- succeeded: the pair's failures forgotten, the address known).
for i = 1, #KEYS - 2 do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[#KEYS - 1])
redis.call('SET', KEYS[#KEYS], '1', 'PX', tonumber(ARGV[2]))
return 1
"""
