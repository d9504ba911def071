-- wrk script: GET BENCH_PATH with `Authorization: BENCH_AUTH` (stats_bench.py).
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d non2xx=%d p99_us=%d p50_us=%d duration_us=%d timeouts=%d\n",
    summary.requests, summary.errors.status, latency:percentile(99), latency:percentile(50),
    summary.duration, summary.errors.timeout))
end
