-- post.lua: wrk script for make bench. Each request is a distinct signed,
-- encrypted event read from the file named by $BENCH_EVENTS (one per line:
-- timestamp, nonce, signature, body, tab-separated). Thread k of
-- $BENCH_THREADS takes lines k, k+n, k+2n, ... so no two requests of a run
-- carry the same event id; if a thread runs out it starts its slice over
-- and done() reports how many requests repeated an event (a duplicate costs
-- larkhook less than a new event, so any repeat is flagged).

local threads = {}

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	local n = tonumber(os.getenv("BENCH_THREADS") or "1")
	local file = os.getenv("BENCH_EVENTS")
	local url = os.getenv("BENCH_PATH") or "/larkhook"
	local i = 0
	reqs = {}
	for line in io.lines(file) do
		if i % n == id then
			local ts, nonce, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
			reqs[#reqs + 1] = wrk.format("POST", url, {
				["Content-Type"] = "application/json; charset=utf-8",
				["X-Lark-Request-Timestamp"] = ts,
				["X-Lark-Request-Nonce"] = nonce,
				["X-Lark-Signature"] = sig,
			}, body)
		end
		i = i + 1
	end
	pool = #reqs
	sent = 0
end

function request()
	sent = sent + 1
	return reqs[(sent - 1) % pool + 1]
end

-- One machine-readable line; run.sh parses it. Latencies in microseconds.
function done(summary, latency, requests)
	local repeats, e = 0, summary.errors
	for _, t in ipairs(threads) do
		local s, p = t:get("sent"), t:get("pool")
		if s > p then repeats = repeats + s - p end
	end
	io.write(string.format(
		"BENCH requests=%d rps=%.1f p50_us=%d p99_us=%d mean_us=%.0f max_us=%d "
		.. "bad_status=%d socket_errors=%d timeouts=%d repeats=%d\n",
		summary.requests, summary.requests / (summary.duration / 1e6),
		math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), latency.mean, latency.max,
		e.status, e.connect + e.read + e.write, e.timeout, repeats))
end
