-- wrk script: each connection walks real USSD sessions as Africa's Talking sends them,
-- one after another, for a new artisan each round:
--   status check     dial, "1" (registration and AMO), "1*98" (next page)        3 hops
--   pay 3 months     another artisan dials, "2", "2*2" (choose months), "2*2*3",
--                    "2*2*3*1" (Wafacash), "2*2*3*1*1" (confirm)
--                    -> the reference, read from the screen                      6 hops
--   agent confirms   the agent dials, PIN, "1", the reference, "1" (cash received) 5 hops
-- Arguments (after --): PATH MODE OFFSET MIX [RATE]. MODE "baseline" sends the same requests to
-- an app that checks nothing (no reference to read). OFFSET picks the first artisan, so
-- that every run pays for artisans nobody paid for yet. MIX "status" walks the status
-- check only (reads), "menus" the language menu and back (the hop's own cost, no SQL
-- after the dial), "full" (the default) all three. Counts as errors: non-200,
-- bodies that are neither CON nor END, a pay session without a reference, and an
-- agent session that does not end on the payment recorded.
-- RATE (requests per second per connection), given to bench/openloop.lua (this script
-- and wrk's delay(): defined there only, as wrk then waits for a timer before each request
-- even in a closed loop), makes the run open-loop: each
-- connection sends on a fixed schedule whatever the answers' pace, and a request's
-- latency counts from when it was due, not from when it went out (a late answer delays
-- the next request: that wait is counted, as a real caller's would be). wrk's own
-- figures only time from the send: done() then prints its own percentiles ("OPENLOOP").
local threads = {}
counter, errors, tid = 0, 0, 0 -- globals: wrk reads them across threads
latencies = {} -- open-loop latencies of this thread, in microseconds (read by done())

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } hirfa_timespec;
int clock_gettime(int clock, hirfa_timespec *out);
]])
local timespec = ffi.new("hirfa_timespec")
function now_us() -- CLOCK_MONOTONIC, in microseconds
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local AGENTS = 64
local DONE = "تم تسجيل الأداء" -- "Payment recorded", in the agents' default language
local STRIDE = 1000 -- artisans per connection and run (two per round)

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local path, mode, offset, mix
-- Open-loop (bench/openloop.lua): microseconds between requests, the next due time, the current one.
interval, planned, due = nil, nil, nil
local round, step, reference, session_id = 0, 0, nil, nil
local script = {}

-- Two artisans per round: one checks, the other pays (the same phone dialing again
-- right after a session left on a menu would be offered to resume it).
local function artisan_phone(which)
  local index = offset + tid * STRIDE + 2 * round + which
  return string.format("%%2B2126%08d", 10000000 + index)
end

local function agent_phone()
  return string.format("%%2B2127%08d", 10000000 + tid % AGENTS)
end

local function plan()
  local ref = reference or "0000000000"
  if mix == "status" then
    return {{artisan_phone(0), {"", "1", "1%2A98"}}}
  elseif mix == "menus" then -- the language menu and back: after the dial, no SQL at all
    return {{artisan_phone(0), {"", "6", "6%2A0", "6%2A0%2A6", "6%2A0%2A6%2A0", "6%2A0%2A6%2A0%2A6", "6%2A0%2A6%2A0%2A6%2A0"}}}
  end
  return {
    {artisan_phone(0), {"", "1", "1%2A98"}},
    {artisan_phone(1), {"", "2", "2%2A2", "2%2A2%2A3", "2%2A2%2A3%2A1", "2%2A2%2A3%2A1%2A1"}},
    {agent_phone(), {"", "1234", "1234%2A1", "1234%2A1%2A" .. ref, "1234%2A1%2A" .. ref .. "%2A1"}},
  }
end

function init(args)
  path, mode, offset, mix = args[1], args[2] or "gateway", tonumber(args[3] or "0"), args[4] or "full"
  script = plan()
  local rate = tonumber(args[5] or "0")
  if rate > 0 then
    interval = 1e6 / rate
    planned = now_us() + interval * ((tid * 0.618) % 1) -- connections out of phase with each other
  end
end

local session, hop = 1, 1

function request()
  local phone, texts = script[session][1], script[session][2]
  if hop == 1 then
    session_id = "bench-" .. offset .. "-" .. tid .. "-" .. round .. "-" .. session
  end
  counter = counter + 1
  if interval ~= nil then
    -- due when planned; the first request goes out on connecting, maybe before.
    due, planned = math.min(planned, now_us()), planned + interval
  end
  local body = "sessionId=" .. session_id .. "&serviceCode=%2A4242%23&networkCode=60401&phoneNumber="
    .. phone .. "&text=" .. texts[hop]
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

local function next_hop()
  hop = hop + 1
  if hop > #script[session][2] then
    hop = 1
    session = session + 1
    if session == 3 then
      script = plan() -- the agent's session types the reference just read
    elseif session > #script then
      session, round, reference = 1, round + 1, nil
      script = plan()
    end
  end
end

function response(status, headers, body)
  if due ~= nil then
    table.insert(latencies, now_us() - due)
  end
  local head = string.sub(body, 1, 4)
  if status ~= 200 or (head ~= "CON " and head ~= "END ") then
    errors = errors + 1
  elseif mode ~= "baseline" then
    local texts = script[session][2]
    if session == 2 and hop == #texts then
      local a, b, c = string.match(body, "(%d%d%d)-(%d%d%d)-(%d%d%d%d)")
      if a then reference = a .. b .. c else errors = errors + 1 end
    elseif session == 3 and hop == #texts and not string.find(body, DONE, 1, true) then
      errors = errors + 1
    end
  end
  next_hop()
end

function done(summary, latency, requests)
  local bad = 0
  local all = {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("errors")
    for _, value in ipairs(thread:get("latencies")) do
      table.insert(all, value)
    end
  end
  if #all > 0 then
    table.sort(all)
    local function at(share)
      return all[math.max(1, math.ceil(#all * share))] / 1000
    end
    io.write(string.format('OPENLOOP {"answered": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, '
      .. '"max_ms": %.2f}\n', #all, at(0.5), at(0.9), at(0.99), all[#all] / 1000))
  end
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, '
    .. '"max_ms": %.2f, "errors": %d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, bad + failed))
end
