-- wrk script for benchmarks/serving.py: POST one body on every request.
--
--   wrk -t1 -c8 -d10s --latency -s post.lua http://127.0.0.1:8000/predict -- body.json
--   wrk -t1 -c8 -d10s --latency -s post.lua http://127.0.0.1:8000/v2/models/ames/infer \
--       -- body.bin 5120
--
-- The body is read once, from the file named after "--", so that wrk sends the very
-- bytes the harness checked beforehand.  A number after it is the length of the JSON
-- header of a body of binary tensors (the Open Inference Protocol's extension).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
   local path = args[1]
   if path == nil then
      error("post.lua: give the JSON body's file after --")
   end
   if args[2] ~= nil then
      wrk.headers["Content-Type"] = "application/octet-stream"
      wrk.headers["Inference-Header-Content-Length"] = args[2]
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
end
