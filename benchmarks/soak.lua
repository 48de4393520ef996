-- wrk script for bench_soak.py: paced pixel hits, each with its own event id, and a record of the acknowledged ones.
-- Run with as many threads as connections (-tN -cN): each thread then has one connection, so a response answers
-- the request just sent. Arguments after "--": segment name, delay in ms between hits on a connection, out folder.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

function init(args)
  segment = args[1]
  delay_ms = tonumber(args[2])
  acked = io.open(args[3] .. "/acked-" .. segment .. "-" .. tid .. ".txt", "w")
  acked:setvbuf("line") -- wrk never closes a thread's Lua state: write each line as it comes
  base = wrk.path .. "&eid=" .. segment .. "-" .. tid .. "-"
  sent = 0
end

function delay()
  return delay_ms
end

function request()
  sent = sent + 1
  return wrk.format(nil, base .. sent)
end

function response(status, headers, body)
  if status == 200 then
    acked:write(sent, "\n")
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
