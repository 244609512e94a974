-- Argo CD health check for batch.example.com/SequentialJob.
--
-- Argo CD runs this with its sandboxed Lua (no string library unless
-- resource.customizations.useOpenLibs is set), so it uses only plain Lua.
-- The global `obj` is the live object; the script returns {status, message}.
--
--   Progressing  the controller has not caught up with the spec yet
--                (no status, or status.observedGeneration < metadata.generation),
--                or steps are pending, queued (Kueue) or running, or the controller retries
--                an error by itself (Reconciling=True)
--   Healthy      every step succeeded (Available=True)
--   Degraded     the run is stuck (Stalled=True): a step failed, or a Job with
--                a step's name belongs to another controller; or Failed=True
--                while the controller is not retrying (Reconciling absent)
--
--   Suspended    spec.suspend holds a run that has not finished (Suspended=True)

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

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local hs = {}
local status = obj.status

if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the SequentialJob controller to observe this object"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation) ..
    " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

-- Stalled: the run cannot go on by itself (a step failed for good, or a Job
-- with a step's name belongs to someone else).
local stalled = condition(status, "Stalled")
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = message(stalled, "The run cannot make progress")
  return hs
end

-- Suspended: spec.suspend holds the run; Argo CD shows it paused, as it
-- does a suspended Job or CronJob.
local suspended = condition(status, "Suspended")
if isTrue(suspended) then
  hs.status = "Suspended"
  hs.message = message(suspended, "The run is suspended")
  return hs
end

-- AwaitingApproval: the run waits before a gated step until a person
-- approves it (spec.approvedSteps); Argo CD shows it paused, as it does an
-- Argo Workflow waiting at a suspend step.
local awaiting = condition(status, "AwaitingApproval")
if isTrue(awaiting) then
  hs.status = "Suspended"
  hs.message = message(awaiting, "The run waits for approval")
  return hs
end

-- Reconciling: steps run, or the controller retries an error by itself
-- (then Failed may be True too, with reason ReconciliationError).
local reconciling = condition(status, "Reconciling")
if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = message(reconciling, "Steps are pending or running")
  return hs
end

local failed = condition(status, "Failed")
if isTrue(failed) then
  hs.status = "Degraded"
  hs.message = message(failed, "A step failed")
  return hs
end

local available = condition(status, "Available")
if isTrue(available) then
  hs.status = "Healthy"
  hs.message = message(available, "All steps succeeded")
  return hs
end

local progressing = condition(status, "Progressing")
hs.status = "Progressing"
hs.message = message(progressing, "Steps are pending or running")
return hs
