-- Health of a stackscope.dev ObservabilityStack, from the status the stackscope operator writes
-- (operator/src/controller/status.rs in github.com/stackscope/stackscope). The status follows
-- kstatus: status.observedGeneration plus the conditions Ready (every workload runs), Applied (the
-- configuration of this generation is applied), Progressing (rolling out), Degraded and Drifted,
-- each with its own observedGeneration.
--
--   Progressing  no status yet, or status.observedGeneration behind metadata.generation (the
--                operator has not reconciled the latest spec)
--   Degraded     Applied=False: the new spec could not be applied (invalid, render or API error);
--                the last good configuration stays in force, the message says why
--   Degraded     Degraded=True: a component's pods cannot start (the message names component,
--                workload, pod and reason), or ServiceMonitors were rejected (the message gives
--                the first one's field and reason, and names the others)
--   Degraded     Drifted=True: an owned object differs from the declaration and driftPolicy
--                Report leaves it so; the message counts the fields and names the first
--   Progressing  Progressing=True: applied, and the workloads are rolling out without failures
--   Healthy      Ready=True and none of the above (drift already put back is mentioned)
--   Progressing  anything else (waiting for the Ready condition)
--
-- Suspended is never returned: an ObservabilityStack has no pause.
--
-- Drift is Degraded rather than a note on Healthy: under driftPolicy Report nothing but this
-- check tells an Argo CD user that what runs is no longer what Git declares (the owned objects
-- are not in the Application's manifests, so Argo CD's own diff never sees them), and only a
-- Degraded resource reaches the application's health and its notifications. Under Correct the
-- operator puts the object back in the reconcile that finds the drift, so Drifted stays False
-- (reason DriftCorrected) and the stack stays Healthy, with the correction in the message.
-- To see drift as a message on Healthy instead, return hs with status "Healthy" where the
-- Drifted branch below sets "Degraded".
--
-- Written for argocd-cm without useOpenLibs: only base and table functions, no string library.
local hs = {}

local function condition(conditions, conditionType)
  for _, candidate in ipairs(conditions) do
    if candidate.type == conditionType then
      return candidate
    end
  end
  return nil
end

local function text(value, fallback)
  if value == nil or value == "" then
    return fallback
  end
  return value
end

if obj.status == nil or obj.status.observedGeneration == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the stackscope operator to reconcile the stack"
  return hs
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the stackscope operator to reconcile generation " .. obj.metadata.generation ..
    " (status describes generation " .. obj.status.observedGeneration .. ")"
  return hs
end

local conditions = obj.status.conditions
local ready = condition(conditions, "Ready")
local applied = condition(conditions, "Applied")
local progressing = condition(conditions, "Progressing")
local degraded = condition(conditions, "Degraded")
local drifted = condition(conditions, "Drifted")

-- Operators from before the Applied condition said the same with Ready=False.
local notApplied = applied
if applied == nil then
  notApplied = ready
end
if notApplied ~= nil and notApplied.status == "False" then
  hs.status = "Degraded"
  hs.message = text(notApplied.message, text(notApplied.reason, "Not applied"))
  return hs
end

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = text(degraded.message, text(degraded.reason, "Degraded"))
  -- Rejected monitors: the first one's field and reason say what to fix, the others are named.
  local rejected = obj.status.rejectedMonitors
  if degraded.reason == "MonitorsRejected" and rejected ~= nil and #rejected > 0 then
    local first = rejected[1]
    hs.message = "ServiceMonitor " .. text(first.namespace, "") .. "/" .. text(first.name, "") .. " rejected: " ..
      text(first.field, "") .. ": " .. text(first.reason, "")
    if #rejected > 1 then
      local others = {}
      for index = 2, #rejected do
        table.insert(others, text(rejected[index].namespace, "") .. "/" .. text(rejected[index].name, ""))
      end
      hs.message = hs.message .. "; " .. (#rejected - 1) .. " more rejected: " .. table.concat(others, ", ")
    end
  end
  return hs
end

if drifted ~= nil and drifted.status == "True" then
  hs.status = "Degraded"
  hs.message = "Drifted: " .. text(drifted.message, "live objects differ from the declaration")
  if obj.status.drift ~= nil then
    for _, entry in ipairs(obj.status.drift) do
      if entry.corrected ~= true then
        hs.message = hs.message .. "; first: " .. entry.object .. " " .. entry.path
        break
      end
    end
  end
  -- Report is the operator's default driftPolicy.
  local policy = "Report"
  if obj.spec ~= nil and obj.spec.driftPolicy ~= nil then
    policy = obj.spec.driftPolicy
  end
  if policy == "Report" then
    hs.message = hs.message .. " (driftPolicy Report leaves it: revert the change or set driftPolicy: Correct)"
  end
  return hs
end

if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = text(progressing.message, "Rolling out")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready.message, "Ready")
  if obj.status.summary ~= nil and obj.status.summary.acceptedMonitors ~= nil then
    hs.message = hs.message .. ", " .. obj.status.summary.acceptedMonitors .. " ServiceMonitor(s) accepted"
  end
  if drifted ~= nil and drifted.reason == "DriftCorrected" then
    hs.message = hs.message .. "; drift put back: " .. text(drifted.message, "corrected")
  end
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
if ready ~= nil then
  hs.message = text(ready.message, hs.message)
end
return hs
