-- wrk script: POST one sentry-sdk-like envelope per request.
-- BENCH_PATH, BENCH_AUTH and BENCH_BODY_FILE come from the environment (ingest_bench.py).
local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/x-sentry-envelope"
wrk.headers["X-Sentry-Auth"] = os.getenv("BENCH_AUTH")

local statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("BENCH requests=%d non2xx=%d p99_us=%d p50_us=%d duration_us=%d\n",
    summary.requests, non2xx, latency:percentile(99), latency:percentile(50), summary.duration))
end
