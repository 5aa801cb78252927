-- wrk script: POSTs the SkillPayload in BODY_FILE (with @@USER@@ and @@CALLBACK@@ placeholders) to /skill.
-- Users: a pool of USERS returning users (their conversations grow during the run), and every NEW_EVERY-th
-- request a user never seen before; USER_PREFIX keeps each server's users its own (a same-run baseline shares
-- kbot's database: with shared users each would find the other's writes and decide again). Every request has
-- a callbackUrl of its own on SINK (host:port) and an X-Request-Id of its own, so no server can take a request
-- for a duplicate.
-- Prints "REPLIES acks=N others=M" (an ack is HTTP 200 with "useCallback":true).
local f = io.open(os.getenv("BODY_FILE"), "r"); local body = f:read("*a"); f:close()
local sink = os.getenv("SINK") or "127.0.0.1:9"
local users = tonumber(os.getenv("USERS") or "500")
local newEvery = tonumber(os.getenv("NEW_EVERY") or "20")
local tag = os.getenv("TAG") or tostring(os.time())
local prefix = os.getenv("USER_PREFIX") or "wrk-"
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
local n = 0
tid = 0
request = function()
  n = n + 1
  local id = tag .. "-" .. tid .. "-" .. n
  local user
  if n % newEvery == 0 then user = prefix .. "new-" .. id else user = prefix .. "user-" .. ((n * 7919 + tid) % users) end
  local b = body:gsub("@@USER@@", user):gsub("@@CALLBACK@@", "http://" .. sink .. "/v1/bots/bench/callback/w" .. id, 1)
  return wrk.format(nil, "/skill", { ["Content-Type"] = "application/json", ["X-Request-Id"] = "wrk-" .. id }, b)
end
local threads = {}
setup = function(thread) table.insert(threads, thread); thread:set("tid", #threads) end
acks, others = 0, 0
response = function(status, headers, b)
  if status == 200 and b:find('"useCallback":true', 1, true) then acks = acks + 1 else others = others + 1 end
end
done = function(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("acks"); o = o + t:get("others") end
  io.write(string.format("REPLIES acks=%d others=%d\n", a, o))
end
