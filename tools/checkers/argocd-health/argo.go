package main

// How Argo CD runs a Lua health check, reproduced from argoproj/argo-cd util/lua/lua.go
// (VM.runLuaWithResourceActionParameters, VM.ExecuteHealthLua, decodeValue) and
// util/settings/settings.go (appendResourceOverridesFromSplitKeys, convertToOverrideKey), with the
// same interpreter (github.com/yuin/gopher-lua, the version Argo CD v3 pins) and the same JSON
// encoder of the returned table (layeh.com/gopher-json). Argo CD's code cannot be imported itself
// without pulling its whole module graph (Kubernetes, gRPC, ...), so the few functions that decide
// what a script sees and what its result means are restated here, step for step.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// healthStatus is gitops-engine's health.HealthStatus: the JSON the returned table must decode to.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// The codes gitops-engine accepts (isValidHealthStatusCode); anything else becomes Unknown.
var validHealthStatus = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

const invalidHealthStatus = "Lua returned an invalid health status"

// runHealth runs a health script on an object as Argo CD's ExecuteHealthLua does. openLibs is the
// customization's useOpenLibs: false for a script from argocd-cm unless
// resource.customizations.useOpenLibs.<group>_<kind> says otherwise, true for the scripts built
// into Argo CD (resource_customizations/) and in Argo CD's own health_test.yaml runner.
func runHealth(object map[string]any, script string, openLibs bool) (healthStatus, error) {
	state := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer state.Close()
	// Argo CD always opens these three, whatever useOpenLibs says: a script without open libraries
	// has ipairs, pairs, next, type, tostring, table.* and require, but no string.*, math.* or os.*.
	for _, library := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(library.open), NRet: 0, Protect: true},
			lua.LString(library.name)); err != nil {
			return healthStatus{}, fmt.Errorf("open %s: %w", library.name, err)
		}
	}
	// Argo CD then installs its "safe" os (time and date only). This checker offers no os at all,
	// so a script that needs os.time fails here although Argo CD would run it: stricter, never
	// more lenient. stackscope's scripts use no os.
	state.SetGlobal(lua.OsLibName, lua.LNil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("actionParams", state.CreateTable(0, 0))
	state.SetGlobal("obj", decodeValue(state, object))

	function, err := state.LoadString(script)
	if err == nil {
		state.Push(function)
		err = state.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		err = apiErr
	}
	if err != nil {
		return healthStatus{}, err
	}

	returned := state.Get(-1)
	switch returned.Type() {
	case lua.LTTable:
		encoded, err := luajson.Encode(returned)
		if err != nil {
			return healthStatus{}, err
		}
		var status healthStatus
		if err := json.Unmarshal(encoded, &status); err != nil {
			// Argo CD maps every type error (an empty table encodes as [], a number as message)
			// to an empty status.
			var typeError *json.UnmarshalTypeError
			if errors.As(err, &typeError) {
				return healthStatus{}, nil
			}
			return healthStatus{}, err
		}
		if !validHealthStatus[status.Status] {
			return healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
		}
		return status, nil
	case lua.LTNil:
		return healthStatus{}, nil
	}
	return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", returned.Type().String())
}

// decodeValue is Argo CD's decodeValue: the object as Lua tables. Integers (int64 in the live
// controller's unstructured objects, float64 from JSON) become Lua numbers alike.
func decodeValue(state *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		array := state.CreateTable(len(converted), 0)
		for _, item := range converted {
			array.Append(decodeValue(state, item))
		}
		return array
	case map[string]any:
		table := state.CreateTable(0, len(converted))
		for key, item := range converted {
			table.RawSetH(lua.LString(key), decodeValue(state, item))
		}
		return table
	}
	return lua.LNil
}

// override is the part of Argo CD's ResourceOverride a health check uses.
type override struct {
	healthLua   string
	useOpenLibs bool
}

// overridesFromConfigMap reads the resource.customizations.<type>.<group>_<kind> keys of argocd-cm
// as Argo CD's settings manager does, keyed by "<group>/<kind>" (or "<kind>" for the core group).
func overridesFromConfigMap(data map[string]string) (map[string]override, error) {
	overrides := map[string]override{}
	for key, value := range data {
		if !strings.HasPrefix(key, "resource.customizations") {
			continue
		}
		parts := strings.SplitN(key, ".", 4)
		if len(parts) < 4 {
			continue
		}
		groupKind := strings.Split(parts[3], "_")
		var overrideKey string
		switch {
		case len(groupKind) == 2:
			overrideKey = groupKind[0] + "/" + groupKind[1]
		case len(groupKind) == 1 && parts[3] != "":
			overrideKey = parts[3]
		default:
			return nil, fmt.Errorf("%s: group kind should be in format `resource.customizations.<type>.<group_kind>`", key)
		}
		current := overrides[overrideKey]
		switch parts[2] {
		case "health":
			current.healthLua = value
		case "useOpenLibs":
			open, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			current.useOpenLibs = open
		case "actions", "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields":
		default:
			return nil, fmt.Errorf("resource customization type %s not supported", parts[2])
		}
		overrides[overrideKey] = current
	}
	return overrides, nil
}

// configMapKey is Argo CD's GetConfigMapKey: "<group>/<kind>", or "<kind>" for the core group.
func configMapKey(object map[string]any) string {
	apiVersion, _ := object["apiVersion"].(string)
	kind, _ := object["kind"].(string)
	group := ""
	if slash := strings.LastIndex(apiVersion, "/"); slash >= 0 {
		group = apiVersion[:slash]
	}
	if group == "" {
		return kind
	}
	return group + "/" + kind
}
