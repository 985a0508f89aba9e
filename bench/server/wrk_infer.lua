-- wrk script: POSTs one encoded image (the file $IMAGE, default image.png) to the infer route, as
-- Content-Type image/png; with $TOKEN set it sends "Authorization: Bearer $TOKEN" (fovea-server --auth-token-file).
local f = assert(io.open(os.getenv("IMAGE") or "image.png", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/png"
local token = os.getenv("TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
