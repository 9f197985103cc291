-- wrk script for bench/proxy.sh's default-policy rows: requests as people
-- make them, so that the detector does its per-session and per-address
-- work. 20,000 people, 30% of them behind 4 carrier-NAT addresses, the
-- rest on addresses of their own; each visit a session (a cookie) of
-- its own, a new one every 30 requests; each item an item's page, its
-- script, then its reviews, with a profile every tenth item; browser
-- headers. Items are log-uniform over 1,000: a few popular, a long tail.
local people = 20000
local step, visit, item = {}, {}, {}
local ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

local function addr(p)
  if p % 10 < 3 then
    return "100.64.0." .. (1 + p % 4)
  end
  return "10." .. math.floor(p / 65536) .. "." .. (math.floor(p / 256) % 256) .. "." .. (p % 256)
end

request = function()
  local p = math.random(0, people - 1)
  local s = step[p] or 0
  step[p] = s + 1
  if s % 30 == 0 then
    visit[p] = (visit[p] or 0) + 1
  end
  local k = s % 3
  if k == 0 then
    item[p] = math.floor(1000 ^ math.random())
  end
  local h = {
    ["X-Forwarded-For"] = addr(p),
    ["User-Agent"] = ua,
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["Cookie"] = "sid=p" .. p .. "-" .. (visit[p] or 1),
  }
  if k == 0 then
    h["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    return wrk.format("GET", "/items/" .. item[p], h)
  elseif k == 1 then
    h["Accept"] = "*/*"
    return wrk.format("GET", "/static/app.js", h)
  end
  h["Accept"] = "application/json"
  if s % 30 == 29 then
    return wrk.format("GET", "/api/users/" .. (1 + p % 50000), h)
  end
  return wrk.format("GET", "/api/items/" .. item[p] .. "/reviews", h)
end
