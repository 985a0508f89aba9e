-- wrk script: GETs the URL; with $TOKEN set it sends "Authorization: Bearer $TOKEN" (fovea-server --auth-token-file).
local token = os.getenv("TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
