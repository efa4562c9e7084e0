-- bench/sessions.lua, open-loop: each connection sends RATE requests per second on a fixed
-- schedule (the 5th argument after --), and done() prints latencies counted from when each
-- request was due (OPENLOOP line). wrk asks delay() how long to wait before each request.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "sessions.lua")

function delay()
  return math.max(0, (planned - now_us()) / 1000)
end
