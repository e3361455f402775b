-- wrk script for scripts/soak.sh: cycles through the auth_guard example's paths, with and
-- without credentials, and counts the answers by status.
--
-- Each request kind has one expected status; the shell script checks that every status seen
-- is an expected one and that each status's share matches the mix (to within the requests
-- in flight), so a wrong answer to one kind would show.
local mix = {
  { path = "/dashboard", headers = {} },                                   -- 307 to /login
  { path = "/dashboard", headers = { ["Cookie"] = "session=ann" } },       -- 200
  { path = "/login?from=%2Fdashboard", headers = {} },                     -- 200 (not matched)
  { path = "/api/hello", headers = {} },                                   -- 401 JSON
  { path = "/api/hello", headers = { ["Authorization"] = "Bearer t0ken" } }, -- 200
  { path = "/logout", headers = { ["Cookie"] = "session=ann" } },          -- 307, cookie deleted
}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  counts = {}
end

function request()
  n = n + 1
  local r = mix[(n % #mix) + 1]
  return wrk.format("GET", r.path, r.headers)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, count in pairs(c) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
  io.write(string.format("completed %d\n", summary.requests))
  io.write(string.format("errors connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
  io.write(string.format("latency_p50_us %d\nlatency_p99_us %d\nlatency_max_us %d\n",
    latency:percentile(50), latency:percentile(99), latency.max))
end
