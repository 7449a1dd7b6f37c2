-- Argo CD health check for every edgefleet.io kind (ProviderConfig, Vpc, SecurityGroup, EdgeInstance,
-- EdgeCloud). deploy/argocd/argocd-cm.yaml is generated from this file by `cargo xtask chart render`.
--
-- Reads the condition contract of docs/conditions.md, in this order:
--   being deleted                                     -> Progressing (the cloud object is being removed)
--   Stalled=True                                      -> Degraded    (needs a human; Stalled's message)
--   EdgeCloud with spec.paused                        -> Suspended
--   status.observedGeneration < metadata.generation   -> Progressing (the operator has not seen the change)
--   Reconciling=True                                  -> Progressing (Reconciling's message)
--   Ready missing or Unknown, or Ready observed an older generation -> Progressing
--   Ready=True                                        -> Healthy
--   Ready=False                                       -> Degraded    (neither working on it nor stalled)
-- Argo CD passes the live object as the global `obj`; only base, string and table functions are used.

local hs = {}

local function condition_text(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then
      return c.reason .. ": " .. c.message
    end
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: waiting for the cloud to confirm the object is gone"
  return hs
end

local conditions = {}
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
  if obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type ~= nil then
        conditions[c.type] = c
      end
    end
  end
end

local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = condition_text(stalled, "Stalled: the operator cannot make progress without a change")
  return hs
end

if obj.kind == "EdgeCloud" and obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Paused: spec.paused is true, the fleet is neither scaled nor repaired"
  return hs
end

if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = condition_text(reconciling, "Reconciling")
  return hs
end

local ready = conditions["Ready"]
if ready == nil or ready.status == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Ready was reported for an older generation"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = condition_text(ready, "Ready")
  return hs
end

hs.status = "Degraded"
hs.message = condition_text(ready, "Not ready")
return hs
