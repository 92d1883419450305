package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// profile is what one MachineAvatars service looks like from outside: the port and route of
// examples/workloads and examples/machineavatars, the version its /health reports, the
// dependencies its /ready lists, how long a request takes, and the steps a request's trace shows.
type profile struct {
	name     string
	port     int
	method   string
	endpoint string
	version  string
	// latencySLO is the service's p95 objective (the seed's SLO table); the base latency stays
	// below it so that an untouched stand-in meets its SLO.
	latencySLO   time.Duration
	minLatency   time.Duration
	maxLatency   time.Duration
	dependencies []string
	// model and tokens appear in the log lines of services that call a language model.
	model  string
	tokens int
	// llmMetrics: the service counts its LLM calls and tokens (the Business dashboard's series).
	llmMetrics bool
	message    string
	steps      []step
}

// step is one child span of a request: a share of the request's base latency.
type step struct {
	name  string
	share float64
	// dbSystem sets the span's db.system attribute, which Jaeger's span metrics split by (the
	// performance budgets of the database and Milvus select on it).
	dbSystem string
	// client marks a call to something outside the service (a database, the LLM provider).
	client bool
}

// profiles: the five services of the seed's SLO table. Ports and routes agree with
// examples/machineavatars/monitors.yaml and examples/workloads/machineavatars.yaml.
var profiles = map[string]profile{
	"gateway": {
		name: "gateway", port: 8000, method: "POST", endpoint: "/api/chat", version: "v1.4.0",
		latencySLO: 100 * time.Millisecond, minLatency: 5 * time.Millisecond, maxLatency: 30 * time.Millisecond,
		dependencies: []string{"auth_service", "response_3d"},
		message:      "Routed chat request",
		steps:        []step{{name: "gateway routing", share: 1}},
	},
	"auth-service": {
		name: "auth-service", port: 8001, method: "POST", endpoint: "/auth/verify", version: "v2.1.0",
		latencySLO: 200 * time.Millisecond, minLatency: 10 * time.Millisecond, maxLatency: 50 * time.Millisecond,
		dependencies: []string{"mongodb"},
		message:      "User logged in",
		steps: []step{
			{name: "verify token", share: 0.4},
			{name: "mongodb find user", share: 0.6, dbSystem: "mongodb", client: true},
		},
	},
	"response-3d": {
		name: "response-3d", port: 8011, method: "POST", endpoint: "/get-response-3d", version: "v1.2.3",
		latencySLO: 3 * time.Second, minLatency: 800 * time.Millisecond, maxLatency: 2 * time.Second,
		dependencies: []string{"mongodb", "milvus", "blob_storage"},
		model:        "gpt-4-turbo", tokens: 450,
		message: "Generated chatbot response",
		// The seed's trace example: Milvus 35 ms, LLM 900 ms, TTS 250 ms, MongoDB 15 ms of 1200 ms.
		steps: []step{
			{name: "milvus search", share: 0.03, dbSystem: "milvus", client: true},
			{name: "llm api call", share: 0.75, client: true},
			{name: "azure tts", share: 0.21, client: true},
			{name: "mongodb save", share: 0.01, dbSystem: "mongodb", client: true},
		},
	},
	"response-text": {
		name: "response-text", port: 8012, method: "POST", endpoint: "/get-response-text", version: "v1.0.7",
		latencySLO: time.Second, minLatency: 200 * time.Millisecond, maxLatency: 700 * time.Millisecond,
		dependencies: []string{"mongodb", "milvus"},
		model:        "gpt-4-turbo", tokens: 320,
		message: "Generated text response",
		steps: []step{
			{name: "milvus search", share: 0.08, dbSystem: "milvus", client: true},
			{name: "llm api call", share: 0.9, client: true},
			{name: "mongodb save", share: 0.02, dbSystem: "mongodb", client: true},
		},
	},
	"llm-service": {
		name: "llm-service", port: 8013, method: "POST", endpoint: "/v1/completions", version: "v0.9.2",
		latencySLO: 2 * time.Second, minLatency: 400 * time.Millisecond, maxLatency: 1500 * time.Millisecond,
		dependencies: []string{"llm_provider"},
		model:        "gpt-4-turbo", tokens: 450, llmMetrics: true,
		message: "LLM completion returned",
		steps:   []step{{name: "llm provider call", share: 1, client: true}},
	},
}

func serviceNames() []string {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func lookupProfile(name string) (profile, error) {
	p, ok := profiles[name]
	if !ok {
		return profile{}, fmt.Errorf("--service: unknown service %q (known: %s)", name, strings.Join(serviceNames(), ", "))
	}
	return p, nil
}

// latencyBuckets: classic histogram boundaries in seconds. They hold every latency threshold the
// observability document and the example monitors name, so that histogram_quantile and the SLO
// rules (which select `le="<target>"`) are exact there: the SLO p95 targets 0.1 (gateway),
// 0.2 (auth), 1 (response-text), 2 (llm), 3 (response-3d); the p95 alerts at 3 (warning) and 10
// (critical); the llm-service's latencyWarning override 4; and the performance budgets 0.05, 0.5.
var latencyBuckets = []float64{
	0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 30,
}
