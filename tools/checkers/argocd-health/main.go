// Command argocd-health runs Argo CD resource health checks written in Lua exactly as Argo CD
// runs them (argo.go): Argo CD's interpreter (github.com/yuin/gopher-lua), the object as the
// global `obj` decoded into Lua tables as Argo CD's util/lua does, the libraries Argo CD opens, its
// one-second budget, and the returned table read back as Argo CD reads it.
//
// Usage:
//
//	argocd-health --script health.lua [--open-libs] OBJECT...
//	    one JSON line {"status":...,"message":...} per object
//	argocd-health --configmap argocd-cm.yaml OBJECT...
//	    the same, with the script Argo CD would pick from that argocd-cm ConfigMap for the
//	    object's group and kind (resource.customizations.health.<group>_<kind>, and its
//	    useOpenLibs key), so what is tested is what users paste
//	argocd-health --test DIR...
//	    Argo CD's health_test.yaml of each DIR (health.lua, health_test.yaml, testdata/), every
//	    case with the libraries closed (argocd-cm's default) and open (built-in scripts); every
//	    file under testdata/ must be a case
//	argocd-health --version
//
// OBJECT is a YAML or JSON file holding one Kubernetes object, or - for standard input. A script
// that fails prints what Argo CD shows then (Unknown and the error) and makes the exit status 1;
// a failed test case also exits 1; usage errors exit 2.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"

	"sigs.k8s.io/yaml"
)

// version is stamped by tools/build-tools.sh with the hash of this checker's sources.
var version = "dev"

const luaModule = "github.com/yuin/gopher-lua"

func main() {
	showVersion := flag.Bool("version", false, "print the version and the Lua interpreter's module version, then exit")
	scriptPath := flag.String("script", "", "the health.lua to run on each OBJECT")
	openLibs := flag.Bool("open-libs", false, "with --script: open Lua's standard libraries (useOpenLibs: true)")
	configMapPath := flag.String("configmap", "", "an argocd-cm ConfigMap whose resource.customizations pick the script")
	testMode := flag.Bool("test", false, "run the health_test.yaml of each DIR")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s --script health.lua [--open-libs] OBJECT... | --configmap argocd-cm.yaml OBJECT... | --test DIR...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("argocd-health %s (%s %s)\n", version, luaModule, moduleVersion())
		return
	}
	modes := 0
	for _, chosen := range []bool{*scriptPath != "", *configMapPath != "", *testMode} {
		if chosen {
			modes++
		}
	}
	if modes != 1 || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var failed bool
	var err error
	switch {
	case *testMode:
		failed, err = runTests(flag.Args())
	case *configMapPath != "":
		failed, err = runWithConfigMap(*configMapPath, flag.Args())
	default:
		failed, err = runWithScript(*scriptPath, *openLibs, flag.Args())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-health: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dependency := range info.Deps {
			if dependency.Path == luaModule {
				return dependency.Version
			}
		}
	}
	return "unknown"
}

// readObject reads one Kubernetes object from a YAML or JSON file, or standard input for "-",
// decoded as Argo CD's own health tests decode their testdata (sigs.k8s.io/yaml).
func readObject(path string) (map[string]any, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	object := map[string]any{}
	if err := yaml.Unmarshal(data, &object); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(object) == 0 {
		return nil, fmt.Errorf("%s: no object", path)
	}
	return object, nil
}

// report prints one result line; a script error is shown as Argo CD shows it.
func report(status healthStatus, runErr error) bool {
	if runErr != nil {
		status = healthStatus{Status: "Unknown", Message: runErr.Error()}
	}
	line, _ := json.Marshal(status)
	fmt.Println(string(line))
	return runErr != nil
}

func runWithScript(scriptPath string, openLibs bool, objects []string) (bool, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return false, err
	}
	failed := false
	for _, path := range objects {
		object, err := readObject(path)
		if err != nil {
			return false, err
		}
		status, runErr := runHealth(object, string(script), openLibs)
		failed = report(status, runErr) || failed
	}
	return failed, nil
}

func runWithConfigMap(configMapPath string, objects []string) (bool, error) {
	configMap, err := readObject(configMapPath)
	if err != nil {
		return false, err
	}
	if kind, _ := configMap["kind"].(string); kind != "ConfigMap" {
		return false, fmt.Errorf("%s: not a ConfigMap (kind %q)", configMapPath, kind)
	}
	data := map[string]string{}
	if raw, ok := configMap["data"].(map[string]any); ok {
		for key, value := range raw {
			text, isText := value.(string)
			if !isText {
				return false, fmt.Errorf("%s: data.%s is not a string (ConfigMap data values are strings)", configMapPath, key)
			}
			data[key] = text
		}
	}
	overrides, err := overridesFromConfigMap(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", configMapPath, err)
	}
	failed := false
	for _, path := range objects {
		object, err := readObject(path)
		if err != nil {
			return false, err
		}
		key := configMapKey(object)
		chosen, found := overrides[key]
		if !found || chosen.healthLua == "" {
			return false, fmt.Errorf("%s: no resource.customizations health script for %s", configMapPath, key)
		}
		status, runErr := runHealth(object, chosen.healthLua, chosen.useOpenLibs)
		failed = report(status, runErr) || failed
	}
	return failed, nil
}

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

func runTests(directories []string) (bool, error) {
	failed := false
	for _, directory := range directories {
		script, err := os.ReadFile(filepath.Join(directory, "health.lua"))
		if err != nil {
			return false, err
		}
		data, err := os.ReadFile(filepath.Join(directory, "health_test.yaml"))
		if err != nil {
			return false, err
		}
		var tests healthTests
		if err := yaml.UnmarshalStrict(data, &tests); err != nil {
			return false, fmt.Errorf("%s: %w", filepath.Join(directory, "health_test.yaml"), err)
		}
		if len(tests.Tests) == 0 {
			return false, fmt.Errorf("%s: no tests", filepath.Join(directory, "health_test.yaml"))
		}
		covered := map[string]bool{}
		for _, test := range tests.Tests {
			covered[filepath.Clean(test.InputPath)] = true
			object, err := readObject(filepath.Join(directory, test.InputPath))
			if err != nil {
				return false, err
			}
			for _, openLibs := range []bool{false, true} {
				status, runErr := runHealth(object, string(script), openLibs)
				libraries := "libraries closed"
				if openLibs {
					libraries = "libraries open"
				}
				name := filepath.Join(directory, test.InputPath) + " (" + libraries + ")"
				switch {
				case runErr != nil:
					failed = true
					fmt.Printf("FAIL %s: %v\n", name, runErr)
				case status != test.HealthStatus:
					failed = true
					got, _ := json.Marshal(status)
					want, _ := json.Marshal(test.HealthStatus)
					fmt.Printf("FAIL %s: got %s, want %s\n", name, got, want)
				default:
					fmt.Printf("ok   %s: %s\n", name, status.Status)
				}
			}
		}
		uncovered, err := uncoveredTestdata(directory, covered)
		if err != nil {
			return false, err
		}
		for _, path := range uncovered {
			failed = true
			fmt.Printf("FAIL %s: not a case of health_test.yaml\n", filepath.Join(directory, path))
		}
	}
	return failed, nil
}

func uncoveredTestdata(directory string, covered map[string]bool) ([]string, error) {
	var uncovered []string
	root := filepath.Join(directory, "testdata")
	err := filepath.WalkDir(root, func(path string, entry os.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		relative, err := filepath.Rel(directory, path)
		if err != nil {
			return err
		}
		if !covered[relative] {
			uncovered = append(uncovered, relative)
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil, nil
	}
	sort.Strings(uncovered)
	return uncovered, err
}
