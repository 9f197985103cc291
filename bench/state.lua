-- wrk script for bench/state.sh: user profiles and review pages over 1,000
-- ids, each request from one of 100,000 client addresses (X-Forwarded-For),
-- so state is written for many actors, as under a rotating-address crawl.
local n = 0
request = function()
  n = n + 1
  local id = math.random(1, 1000)
  local a = math.random(0, 99999)
  local ip = "10." .. math.floor(a / 65536) .. "." .. (math.floor(a / 256) % 256) .. "." .. (a % 256)
  local headers = { ["X-Forwarded-For"] = ip }
  if n % 2 == 0 then
    return wrk.format("GET", "/api/items/" .. id .. "/reviews", headers)
  end
  return wrk.format("GET", "/api/users/" .. id, headers)
end
