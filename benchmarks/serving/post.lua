-- wrk script for benchmarks/serving.py: POST one JSON body on every request.
--
--   wrk -t1 -c8 -d10s --latency -s post.lua http://127.0.0.1:8000/predict -- body.json
--
-- The body is read once, from the file named after "--", so that wrk sends the very
-- bytes the harness checked beforehand.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
   local path = args[1]
   if path == nil then
      error("post.lua: give the JSON body's file after --")
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
end
