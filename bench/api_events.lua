-- wrk script for bench/api_bench.sh: POST /api/v1/events, each request a batch of BATCH new
-- orders of existing customers (source "erp", customer_external_id "C1".."C<CUSTOMERS>", as
-- crm_scoring_bench generate writes them). External ids are unique per run, thread and request
-- (RUN_TAG-thread-request-index), so every record is new and must be stored, none deduplicated.
--   API_TOKEN, CUSTOMERS, BATCH (default 1000), RUN_TAG (unique per run)
-- Every response is checked: a status other than 200, an "accepted" count other than BATCH or
-- a "rejected" list that is not empty counts as a failed batch. done() prints one RESULT line the script parses.
local customers = tonumber(os.getenv("CUSTOMERS") or "1000000")
local batch = tonumber(os.getenv("BATCH") or "1000")
local token = os.getenv("API_TOKEN") or ""
local run_tag = os.getenv("RUN_TAG") or tostring(os.time())

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

-- Globals, not locals: done() reads them from each thread with thread:get.
sent = 0
accepted_batches = 0
failed_batches = 0
first_failure = nil

function init(args)
  math.randomseed(os.time() * 100 + thread_number)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

-- 2025-06-01 .. 2025-12-31 in ms: inside the generated data's span.
local first_ms = 1748736000000
local span_ms = 213 * 86400000

function request()
  sent = sent + 1
  local prefix = string.format('{"type":"order","external_id":"%s-%d-%d-', run_tag, thread_number, sent)
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format('%s%d","customer_external_id":"C%d","ordered_at_ms":%d,"amount":%d,'
      .. '"currency":"EUR","status":"confirmed"}', prefix, i, math.random(customers),
      first_ms + math.random(span_ms), 20 + math.random(500))
  end
  local body = '{"source":"erp","records":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format(nil, "/api/v1/events", nil, body)
end

function response(status, headers, body)
  local accepted = tonumber(body:match('"accepted"%s*:%s*(%d+)') or "-1")
  if status == 200 and accepted == batch and body:find('"rejected"%s*:%s*%[%s*%]') then
    accepted_batches = accepted_batches + 1
  else
    failed_batches = failed_batches + 1
    if first_failure == nil then
      first_failure = status .. " " .. body:sub(1, 300)
    end
  end
end

function done(summary, latency, requests)
  local accepted, failed, failure = 0, 0, nil
  for _, thread in ipairs(threads) do
    accepted = accepted + thread:get("accepted_batches")
    failed = failed + thread:get("failed_batches")
    failure = failure or thread:get("first_failure")
  end
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d connect_errors=%d "
      .. "read_errors=%d write_errors=%d timeouts=%d accepted_batches=%d failed_batches=%d batch=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, errors.status,
    errors.connect, errors.read, errors.write, errors.timeout, accepted, failed, batch))
  if failure then
    io.write("FIRST_FAILURE " .. failure .. "\n")
  end
end
