// Command alloy-syntax judges Alloy configuration files with Alloy's own syntax module
// (github.com/grafana/alloy/syntax): its parser reads each file, its printer formats it again
// (the formatted text must parse too and, with --fmt, equal the file byte for byte, as
// `alloy fmt` would leave it), and its decoder evaluates every component block into the argument
// types of that component (components.go), so an unknown attribute or block, a missing required
// attribute, a value of the wrong type or a reference to a component that is not declared is an
// error, as it is when Alloy loads the file.
//
// Usage:
//
//	alloy-syntax [--fmt] FILE...
//	alloy-syntax --version
//
// It prints one line per problem, "FILE:LINE:COL: MESSAGE" where the syntax module gives a
// position, and exits 1 when there is any, 2 on a usage error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/diag"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/printer"
	"github.com/grafana/alloy/syntax/vm"
)

// version is stamped by tools/build-tools.sh with the hash of this checker's sources.
var version = "dev"

const syntaxModule = "github.com/grafana/alloy/syntax"

func main() {
	showVersion := flag.Bool("version", false, "print the version and the syntax module version, then exit")
	requireFormatted := flag.Bool("fmt", false, "require each file to be exactly as the syntax printer formats it")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [--fmt] FILE...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("alloy-syntax %s (%s %s)\n", version, syntaxModule, moduleVersion())
		return
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed := false
	for _, name := range flag.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Printf("%s: %v\n", name, err)
			failed = true
			continue
		}
		for _, problem := range check(name, data, *requireFormatted) {
			failed = true
			fmt.Println(problem)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dependency := range info.Deps {
			if dependency.Path == syntaxModule {
				return dependency.Version
			}
		}
	}
	return "unknown"
}

// check returns every problem of one file.
func check(name string, data []byte, requireFormatted bool) []string {
	file, err := parser.ParseFile(name, data)
	if err != nil {
		return lines(name, err)
	}
	var problems []string

	var formatted bytes.Buffer
	if err := printer.Fprint(&formatted, file); err != nil {
		problems = append(problems, fmt.Sprintf("%s: the syntax printer cannot format it: %v", name, err))
	} else {
		// `alloy fmt` ends the printed file with a newline.
		formatted.WriteByte('\n')
		if _, err := parser.ParseFile(name+" (formatted)", formatted.Bytes()); err != nil {
			problems = append(problems, lines(name+" (formatted)", err)...)
		}
		if requireFormatted {
			if difference := firstDifference(data, formatted.Bytes()); difference != "" {
				problems = append(problems, fmt.Sprintf("%s: not as `alloy fmt` prints it: %s", name, difference))
			}
		}
	}

	scope, scopeProblems := declare(name, file)
	problems = append(problems, scopeProblems...)
	for _, statement := range file.Body {
		block, ok := statement.(*ast.BlockStmt)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %s: only component blocks may appear at the top level", name, ast.StartPos(statement).Position()))
			continue
		}
		componentName := strings.Join(block.Name, ".")
		model, known := components[componentName]
		if !known {
			continue // reported by declare
		}
		arguments := model.arguments()
		if err := vm.New(block.Body).Evaluate(scope, arguments); err != nil {
			problems = append(problems, lines(name, err)...)
			continue
		}
		if err := validate(arguments); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %s %q: %v", name, ast.StartPos(block).Position(), componentName, block.Label, err))
		}
	}
	return problems
}

// declare builds the scope the component blocks are evaluated in: the exports of every declared
// component, under `<component name>.<label>`, as Alloy's controller exposes them.
func declare(name string, file *ast.File) (*vm.Scope, []string) {
	variables := map[string]any{}
	var problems []string
	for _, statement := range file.Body {
		block, ok := statement.(*ast.BlockStmt)
		if !ok {
			continue
		}
		componentName := strings.Join(block.Name, ".")
		position := ast.StartPos(block).Position()
		model, known := components[componentName]
		if !known {
			problems = append(problems, fmt.Sprintf("%s: %s: no argument model for component %q (known: %s)", name, position, componentName, knownComponents()))
			continue
		}
		if block.Label == "" {
			problems = append(problems, fmt.Sprintf("%s: %s: component %q needs a label", name, position, componentName))
			continue
		}
		node := variables
		for _, part := range block.Name {
			child, ok := node[part].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[part] = child
			}
			node = child
		}
		if _, duplicate := node[block.Label]; duplicate {
			problems = append(problems, fmt.Sprintf("%s: %s: %s %q is declared twice", name, position, componentName, block.Label))
			continue
		}
		node[block.Label] = model.exports(componentName + "." + block.Label)
	}
	return &vm.Scope{Variables: variables}, problems
}

func knownComponents() string {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// lines turns a syntax error (one diagnostic or many) into one line each, positioned.
func lines(name string, err error) []string {
	var many diag.Diagnostics
	if errors.As(err, &many) {
		out := make([]string, 0, len(many))
		for _, one := range many {
			out = append(out, one.Error())
		}
		return out
	}
	var one diag.Diagnostic
	if errors.As(err, &one) {
		return []string{one.Error()}
	}
	return []string{fmt.Sprintf("%s: %v", name, err)}
}

// firstDifference names the first line where two texts differ, "" when they are equal.
func firstDifference(have, want []byte) string {
	if bytes.Equal(have, want) {
		return ""
	}
	haveLines := strings.Split(string(have), "\n")
	wantLines := strings.Split(string(want), "\n")
	for index := 0; index < len(haveLines) || index < len(wantLines); index++ {
		var haveLine, wantLine string
		if index < len(haveLines) {
			haveLine = haveLines[index]
		}
		if index < len(wantLines) {
			wantLine = wantLines[index]
		}
		if haveLine != wantLine || index >= len(haveLines) || index >= len(wantLines) {
			return fmt.Sprintf("line %d is %q, formatted %q", index+1, haveLine, wantLine)
		}
	}
	return "they differ"
}
