// Command grafana-schema judges Grafana dashboard JSON files by the Grafana foundation SDK, the Go
// types generated from Grafana's own dashboard, panel-plugin and query schemas.
//
// Each file is decoded with the SDK's strict decoder (Dashboard.UnmarshalJSONStrict): unknown,
// mistyped and missing required fields are errors, every panel's options and custom field config
// are decoded by its panel plugin's types (timeseries, stat, gauge, barchart, ...) and every query
// by its datasource's types (prometheus, loki, ...). On top of that it refuses what the SDK would
// let through loosely: a panel type or query datasource type the SDK has no schema for (it would
// keep those as untyped maps), a fieldConfig outside its custom part (which the SDK decodes
// leniently), a value of an enum type outside the values the schema declares (the Go types are
// plain strings, see enums.go), and, with --schema-version, a dashboard of another schema
// version.
//
// Usage:
//
//	grafana-schema [--schema-version N] FILE...
//	grafana-schema --version
//
// It prints one line per problem, "FILE: PATH: MESSAGE", the first problem of each file first, and
// exits 1 when there is any, 2 on a usage error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// version is stamped by tools/build-tools.sh with the hash of this checker's sources.
var version = "dev"

const sdkModule = "github.com/grafana/grafana-foundation-sdk/go"

// problem is one finding: where in the file (a dotted path, as the SDK names it) and what.
type problem struct {
	path    string
	message string
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and the SDK version, then exit")
	schemaVersion := flag.Int("schema-version", 0, "require this dashboard schemaVersion (0: any)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [--schema-version N] FILE...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("grafana-schema %s (%s %s)\n", version, sdkModule, sdkVersion())
		return
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// Register every panel plugin and datasource query schema the SDK knows, so that panels and
	// queries are decoded into their own types instead of untyped maps.
	plugins.RegisterDefaultPlugins()
	registerEnums()

	failed := false
	for _, file := range flag.Args() {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Printf("%s: %v\n", file, err)
			failed = true
			continue
		}
		for _, found := range checkDashboard(raw, *schemaVersion) {
			failed = true
			if found.path == "" {
				fmt.Printf("%s: %s\n", file, found.message)
			} else {
				fmt.Printf("%s: %s: %s\n", file, found.path, found.message)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}

func sdkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dependency := range info.Deps {
			if dependency.Path == sdkModule {
				return dependency.Version
			}
		}
	}
	return "unknown"
}

// checkDashboard returns every problem of one dashboard file.
func checkDashboard(raw []byte, wantSchemaVersion int) []problem {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return []problem{{message: "not a JSON object"}}
	}
	if !json.Valid(trimmed) {
		var probe any
		return []problem{{message: fmt.Sprintf("invalid JSON: %v", json.Unmarshal(trimmed, &probe))}}
	}
	var problems []problem
	var board dashboard.Dashboard
	problems = append(problems, fromError("", board.UnmarshalJSONStrict(trimmed))...)
	// The strict decoder reports problems but drops what it decodes below a panel: the SDK's
	// generated strict methods return their (empty) error list as a non-nil error, on which the
	// panel, options and query wrappers give up their value. The lenient decoder keeps the typed
	// values, so enum values are checked on its result.
	var typed dashboard.Dashboard
	if err := json.Unmarshal(trimmed, &typed); err == nil {
		problems = append(problems, checkEnums("", reflect.ValueOf(typed))...)
	}

	var shape struct {
		SchemaVersion *int              `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(trimmed, &shape); err != nil {
		// The strict decoder has already reported the mistyped field.
		return problems
	}
	if wantSchemaVersion > 0 {
		switch {
		case shape.SchemaVersion == nil:
			problems = append(problems, problem{"schemaVersion", "missing"})
		case *shape.SchemaVersion != wantSchemaVersion:
			problems = append(problems, problem{"schemaVersion", fmt.Sprintf("is %d, the pinned Grafana reads %d", *shape.SchemaVersion, wantSchemaVersion)})
		}
	}
	for index, panel := range shape.Panels {
		problems = append(problems, checkPanel("panels["+strconv.Itoa(index)+"]", panel)...)
	}
	return problems
}

// checkPanel adds what the SDK's strict panel decoding lets through.
func checkPanel(path string, raw json.RawMessage) []problem {
	var panel struct {
		Type        string            `json:"type"`
		Datasource  *json.RawMessage  `json:"datasource"`
		FieldConfig json.RawMessage   `json:"fieldConfig"`
		Targets     []json.RawMessage `json:"targets"`
		Panels      []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &panel); err != nil {
		return nil // reported by the strict decoder
	}
	var problems []problem
	if panel.Type == "row" {
		// A collapsed row carries its panels.
		for index, child := range panel.Panels {
			problems = append(problems, checkPanel(path+".panels["+strconv.Itoa(index)+"]", child)...)
		}
		return problems
	}
	if _, found := cog.ConfigForPanelcfgVariant(panel.Type); !found {
		problems = append(problems, problem{path + ".type", fmt.Sprintf("no panel plugin schema for type %q", panel.Type)})
	}
	if panel.FieldConfig != nil && string(panel.FieldConfig) != "null" {
		var fieldConfig dashboard.FieldConfigSource
		problems = append(problems, fromError(path+".fieldConfig", fieldConfig.UnmarshalJSONStrict(panel.FieldConfig))...)
	}
	panelDatasourceType := datasourceType(panel.Datasource)
	for index, target := range panel.Targets {
		targetPath := path + ".targets[" + strconv.Itoa(index) + "]"
		var query struct {
			Datasource *json.RawMessage `json:"datasource"`
		}
		if err := json.Unmarshal(target, &query); err != nil {
			continue // reported by the strict decoder
		}
		kind := datasourceType(query.Datasource)
		if kind == "" {
			kind = panelDatasourceType
		}
		decoded, err := cog.StrictUnmarshalDataquery(target, kind)
		if failed(err) {
			continue // reported by the strict decoder
		}
		if _, unknown := decoded.(variants.UnknownDataquery); unknown {
			problems = append(problems, problem{targetPath, fmt.Sprintf("no query schema for datasource type %q", kind)})
		}
	}
	return problems
}

// enumValues holds the value set of each enum type of the SDK (enums.go).
var enumValues = map[reflect.Type]map[string]bool{}

func registerEnum[T ~string](values ...T) {
	allowed := make(map[string]bool, len(values))
	for _, value := range values {
		allowed[string(value)] = true
	}
	enumValues[reflect.TypeOf(values[0])] = allowed
}

// checkEnums walks a decoded value and reports every value of an enum type outside its set.
// An empty value is an absent one (the SDK's zero value), not a wrong one.
func checkEnums(path string, value reflect.Value) []problem {
	var problems []problem
	switch value.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !value.IsNil() {
			problems = append(problems, checkEnums(path, value.Elem())...)
		}
	case reflect.String:
		allowed, isEnum := enumValues[value.Type()]
		if isEnum && value.String() != "" && !allowed[value.String()] {
			names := make([]string, 0, len(allowed))
			for name := range allowed {
				names = append(names, strconv.Quote(name))
			}
			sort.Strings(names)
			problems = append(problems, problem{path, fmt.Sprintf("%q is not a %s (one of %s)", value.String(), value.Type().Name(), strings.Join(names, ", "))})
		}
	case reflect.Struct:
		for index := 0; index < value.NumField(); index++ {
			field := value.Type().Field(index)
			if !field.IsExported() {
				continue
			}
			name := strings.Split(field.Tag.Get("json"), ",")[0]
			if name == "-" {
				continue
			}
			fieldPath := path
			// Union wrappers (PanelOrRowPanel, ...) name their members by Go type: no JSON key.
			if name != "" && strings.ToLower(name[:1]) == name[:1] {
				fieldPath = joinPath(path, name)
			}
			problems = append(problems, checkEnums(fieldPath, value.Field(index))...)
		}
	case reflect.Slice, reflect.Array:
		for index := 0; index < value.Len(); index++ {
			problems = append(problems, checkEnums(path+"["+strconv.Itoa(index)+"]", value.Index(index))...)
		}
	case reflect.Map:
		keys := value.MapKeys()
		sort.Slice(keys, func(a, b int) bool { return fmt.Sprint(keys[a]) < fmt.Sprint(keys[b]) })
		for _, key := range keys {
			problems = append(problems, checkEnums(joinPath(path, fmt.Sprint(key.Interface())), value.MapIndex(key))...)
		}
	}
	return problems
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// datasourceType is the `type` of a datasource reference, "" when absent.
func datasourceType(reference *json.RawMessage) string {
	if reference == nil {
		return ""
	}
	var ref struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(*reference, &ref); err != nil {
		return ""
	}
	return ref.Type
}

// failed tells whether an SDK error is one: its strict decoders return an empty error list as a
// non-nil error.
func failed(err error) bool {
	var buildErrors cog.BuildErrors
	if errors.As(err, &buildErrors) {
		return len(buildErrors) > 0
	}
	return err != nil
}

// fromError turns the SDK's build errors (or any error) into problems under a path prefix.
func fromError(prefix string, err error) []problem {
	if err == nil {
		return nil
	}
	join := func(path string) string {
		switch {
		case prefix == "":
			return path
		case path == "":
			return prefix
		default:
			return prefix + "." + path
		}
	}
	var buildErrors cog.BuildErrors
	if errors.As(err, &buildErrors) {
		problems := make([]problem, 0, len(buildErrors))
		for _, buildError := range buildErrors {
			problems = append(problems, problem{join(buildError.Path), buildError.Message})
		}
		return problems
	}
	var buildError *cog.BuildError
	if errors.As(err, &buildError) {
		return []problem{{join(buildError.Path), buildError.Message}}
	}
	return []problem{{join(""), err.Error()}}
}
