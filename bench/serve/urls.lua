-- wrk script: GET the paths listed in the file $URLS (one a line) round-robin, each thread
-- starting at its own offset; answers that are not 2xx or 3xx are reported as errors.
local paths = {}
for line in io.lines(os.getenv("URLS")) do
  paths[#paths + 1] = line
end
local i = 0

function setup(thread)
  thread:set("start", math.random(#paths))
end

function init(args)
  i = start or 0
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  io.write(string.format("errors: %d non-2xx, %d socket\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
