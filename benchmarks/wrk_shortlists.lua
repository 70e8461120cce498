-- wrk script of benchmarks/http_load.py: GET /v1/buildings/<id>/shortlist?k=<k> for the lines
-- of the file $TM_IDS in order, with the API key $TM_KEY, for wrk's whole duration. Should the
-- list run out first it starts over: "repeats" counts those requests (a workload meant to
-- ask each id once must be given more ids than it can send). done() prints one JSON line.

local ids = {}
for line in io.lines(os.getenv("TM_IDS")) do
  ids[#ids + 1] = line
end
local key = os.getenv("TM_KEY")
local k = os.getenv("TM_K") or "50"
sent = 0  -- global: done() reads it through thread:get

request = function()
  sent = sent + 1
  local id = ids[(sent - 1) % #ids + 1]
  return wrk.format("GET", "/v1/buildings/" .. id .. "/shortlist?k=" .. k, { ["X-API-Key"] = key })
end

-- Each wrk thread runs its own copy of this script: done() reads the counts through the
-- threads' globals (setup keeps them), as wrk's own example scripts do.
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end

done = function(summary, latency, requests)
  local sent_total = 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "ids": %d, "sent": %d, "repeats": %d, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, #ids, sent_total, math.max(0, sent_total - #ids),
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean,
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
