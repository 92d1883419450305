package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The RED series of the observability document, with its label names: `service`, `endpoint`,
// `method` and `status_code` (the operator's rules and dashboards aggregate by `service`).
const (
	metricRequests = "http_requests_total"
	metricFailures = "http_requests_failed_total"
	metricDuration = "http_request_duration_seconds"
	// exemplarLabel is the exemplar label Grafana's Prometheus datasource links to Jaeger by
	// (operator/src/render/grafana.rs: exemplarTraceIdDestinations).
	exemplarLabel = "trace_id"
)

type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	llmCalls  *prometheus.CounterVec
	llmTokens *prometheus.CounterVec
}

func newMetrics(p profile) *metrics {
	constant := prometheus.Labels{"service": p.name}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests, Help: "Requests served.", ConstLabels: constant,
		}, []string{"endpoint", "method", "status_code"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricFailures, Help: "Requests answered with a server error.", ConstLabels: constant,
		}, []string{"endpoint", "method", "status_code"}),
		// Classic buckets (the SLO thresholds) and native buckets at once: a Prometheus that
		// scrapes native histograms gets both when it keeps the classic ones too
		// (always_scrape_classic_histograms).
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricDuration, Help: "Request duration in seconds.", ConstLabels: constant,
			Buckets:                         latencyBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"endpoint", "method"}),
		llmCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llm_api_calls_total", Help: "Calls to the language model provider.", ConstLabels: constant,
		}, []string{"model"}),
		llmTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llm_tokens_total", Help: "Tokens consumed at the language model provider.", ConstLabels: constant,
		}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.failures, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if p.llmMetrics {
		m.registry.MustRegister(m.llmCalls, m.llmTokens)
	}
	// Series at zero from the start, so rates exist before the first failure.
	m.requests.WithLabelValues(p.endpoint, p.method, "200")
	m.requests.WithLabelValues(p.endpoint, p.method, "500")
	m.failures.WithLabelValues(p.endpoint, p.method, "500")
	return m
}

// observe records one request; traceID (empty when the span is not sampled) becomes the
// exemplar of the counter increments and of the histogram observation.
func (m *metrics) observe(p profile, status int, took time.Duration, traceID string) {
	code := strconv.Itoa(status)
	var exemplar prometheus.Labels
	if traceID != "" {
		exemplar = prometheus.Labels{exemplarLabel: traceID}
	}
	add(m.requests.WithLabelValues(p.endpoint, p.method, code), exemplar)
	if status >= http.StatusInternalServerError {
		add(m.failures.WithLabelValues(p.endpoint, p.method, code), exemplar)
	}
	observer := m.duration.WithLabelValues(p.endpoint, p.method)
	if with, ok := observer.(prometheus.ExemplarObserver); ok && exemplar != nil {
		with.ObserveWithExemplar(took.Seconds(), exemplar)
	} else {
		observer.Observe(took.Seconds())
	}
}

func (m *metrics) observeLLM(model string, tokens int) {
	m.llmCalls.WithLabelValues(model).Inc()
	m.llmTokens.WithLabelValues(model).Add(float64(tokens))
}

func add(counter prometheus.Counter, exemplar prometheus.Labels) {
	if with, ok := counter.(prometheus.ExemplarAdder); ok && exemplar != nil {
		with.AddWithExemplar(1, exemplar)
		return
	}
	counter.Inc()
}

// handler serves /metrics; OpenMetrics (text) carries the exemplars, and the protobuf format a
// native-histogram scrape asks for carries them along with the native buckets.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.registry})
}
