-- wrk script for bench/api_bench.sh: GET requests with a bearer token.
--   API_PATH   the path; every "{id}" in it becomes a random customer id per request
--   CUSTOMERS  ids are drawn from 1..CUSTOMERS (the generator numbers customers from 1)
--   API_TOKEN  sent as "Authorization: Bearer ..." (nginx, the ceiling, ignores it)
-- done() prints one RESULT line with integer fields the script parses (latencies in us).
local path = os.getenv("API_PATH") or "/api/v1/customers/{id}"
local customers = tonumber(os.getenv("CUSTOMERS") or "1000000")
local token = os.getenv("API_TOKEN") or ""
local random_ids = path:find("{id}", 1, true) ~= nil

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  -- Each thread its own sequence, so two threads do not ask for the same ids in step.
  math.randomseed(os.time() * 100 + thread_number)
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/json"
end

function request()
  if random_ids then
    return wrk.format("GET", (path:gsub("{id}", tostring(math.random(customers)))))
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d connect_errors=%d "
      .. "read_errors=%d write_errors=%d timeouts=%d bytes=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, errors.status,
    errors.connect, errors.read, errors.write, errors.timeout, summary.bytes))
end
