-- wrk script: every connection walks real USSD sessions, as Africa's Talking sends them:
-- dial, "1" (registration status), "1*98" (next page). One connection per thread keeps
-- the hops of a session in order. Counts replies that are not HTTP 200 with CON/END.
local steps = {"", "1", "1%2A98"}
local phones = {"%2B212600000001", "%2B212600000002", "%2B212600000003"}
local threads = {}
counter, errors, tid = 0, 0, 0  -- globals: wrk reads them across threads

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
end

function request()
  local step = counter % 3
  local session = math.floor(counter / 3)
  counter = counter + 1
  local body = "sessionId=bench-" .. tid .. "-" .. session .. "-" .. os.time()
    .. "&serviceCode=%2A4242%23&networkCode=60401&phoneNumber=" .. phones[session % 3 + 1]
    .. "&text=" .. steps[step + 1]
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function response(status, headers, body)
  local head = string.sub(body, 1, 4)
  if status ~= 200 or (head ~= "CON " and head ~= "END ") then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("errors")
  end
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, '
    .. '"max_ms": %.2f, "errors": %d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, bad + failed))
end
