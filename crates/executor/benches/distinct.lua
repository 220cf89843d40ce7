-- wrk: firing webhooks that are each a different notification (a distinct startsAt, to the
-- microsecond), so that dedup_window lets every one run. Body: webhook.json beside this file.
local path = debug.getinfo(1, "S").source:sub(2):gsub("distinct%.lua$", "webhook.json")
local template = io.open(path):read("*a")
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local sent = 0
function request()
  sent = sent + 1
  local stamp = string.format("2016-04-07T10:08:52.%06d-06:00", id * 100000 + sent % 100000)
  local body = template:gsub("2016%-04%-07T10:08:52%-06:00", stamp)
  return wrk.format("POST", "/", {["Content-Type"] = "application/json"}, body)
end
