-- wrk script for bench/flood.sh: profile requests from client addresses
-- given in X-Forwarded-For. FLOOD_POOL addresses in turn (0: every
-- request from a fresh one, so the meter evicts once it is full).
local pool = tonumber(os.getenv("FLOOD_POOL") or "0")
local n = 0
local base = 0
setup = function(thread)
  thread:set("base", base)
  base = base + 1
end
request = function()
  n = n + 1
  local i = n
  if pool > 0 then i = n % pool end
  -- each thread its own /8 (10 + thread), addresses counted up within it
  local a = 10 + base
  local ip = a .. "." .. (math.floor(i / 65536) % 256) .. "." .. (math.floor(i / 256) % 256) .. "." .. (i % 256)
  return wrk.format("GET", "/api/users/" .. math.random(1, 1000), { ["X-Forwarded-For"] = ip })
end
