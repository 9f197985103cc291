-- wrk script: half user profiles, half review pages, over 1,000 ids.
local n = 0
request = function()
  n = n + 1
  local id = math.random(1, 1000)
  if n % 2 == 0 then
    return wrk.format("GET", "/api/items/" .. id .. "/reviews")
  end
  return wrk.format("GET", "/api/users/" .. id)
end
