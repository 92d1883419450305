-- Health of a stackscope.dev ServiceMonitor, from the status the stackscope operator writes on
-- every monitor an ObservabilityStack selects (write_monitor_statuses in
-- operator/src/controller/mod.rs of github.com/stackscope/stackscope): status.observedGeneration
-- and one condition, Accepted.
--
--   Progressing  no status yet: no ObservabilityStack has selected the monitor (yet), so nothing
--                scrapes it; or status.observedGeneration behind metadata.generation
--   Degraded     Accepted=False: the stack left the monitor out (the message names the field
--                and the reason: a missing Secret, a port no Service has, a regex Prometheus
--                would not compile, ...); the stack's other monitors are still rendered
--   Healthy      Accepted=True: rendered into the stack's Prometheus configuration
--
-- Suspended is never returned: a ServiceMonitor has no pause.
-- Written for argocd-cm without useOpenLibs: only base and table functions, no string library.
local hs = {}

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for an ObservabilityStack to select this ServiceMonitor"
  return hs
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil and
    obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the stackscope operator to check generation " .. obj.metadata.generation ..
    " (status describes generation " .. obj.status.observedGeneration .. ")"
  return hs
end

for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Accepted" then
    local message = condition.message
    if message == nil or message == "" then
      message = condition.reason or "Accepted condition without a message"
    elseif condition.reason ~= nil and condition.reason ~= "" and condition.status == "False" then
      message = condition.reason .. ": " .. message
    end
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = message
      return hs
    end
    if condition.status == "False" then
      hs.status = "Degraded"
      hs.message = message
      if obj.status.stacks ~= nil and #obj.status.stacks > 0 then
        hs.message = hs.message .. " (ObservabilityStack " .. table.concat(obj.status.stacks, ", ") .. ")"
      end
      return hs
    end
  end
end

hs.status = "Progressing"
hs.message = "Waiting for the Accepted condition"
return hs
