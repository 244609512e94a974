-- Argo CD health check for batch.example.com/SequentialCronJob.
--
-- Plain Lua, as health.lua (Argo CD's sandbox opens no string library).
-- The global `obj` is the live object; the script returns {status, message}.
-- A cron's health is its schedule's, not its runs': each run (a
-- SequentialJob) has its own health, from health.lua.
--
--   Progressing  the controller has not caught up with the spec yet
--                (no status, or status.observedGeneration < metadata.generation)
--   Degraded     the schedule or time zone does not parse (Stalled=True);
--                an edit fixes it
--   Suspended    spec.suspend is true: no new runs, as a suspended CronJob
--   Healthy      the schedule is followed (Ready=True)

local function condition(status, type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local hs = {}
local status = obj.status

if status == nil or status.observedGeneration == nil or status.observedGeneration == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the SequentialCronJob controller to observe this object"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation) ..
    " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "The schedule cannot be followed")
  return hs
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "The cron is suspended: no new runs"
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "The schedule is followed")
  return hs
end

hs.status = "Progressing"
hs.message = message(ready, "Waiting for the SequentialCronJob controller")
return hs
