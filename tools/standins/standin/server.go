package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Headers that carry the caller's ids into the log line (random ones are made up otherwise).
const (
	userHeader    = "X-User-Id"
	projectHeader = "X-Project-Id"
)

type server struct {
	profile    profile
	version    string
	control    *control
	metrics    *metrics
	logs       *logger
	tracer     trace.Tracer
	downstream []string
	client     *http.Client
}

// routes: the service's own endpoint (counted in the RED metrics), the probes, the metrics and
// the control endpoint (none of those counted).
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(s.profile.endpoint, s.serveEndpoint)
	s.probeRoutes(mux)
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/control", s.serveControl)
	return mux
}

// probeRoutes: /health and /ready, also served alone on the extra probe listener.
func (s *server) probeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/health", s.serveHealth)
	mux.HandleFunc("/ready", s.serveReady)
}

// healthResponse and readyResponse: the document's shapes (Health Checks: Response).
type healthResponse struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
	Service   string `json:"service"`
	Version   string `json:"version"`
}

type readyResponse struct {
	Ready        bool              `json:"ready"`
	Dependencies map[string]string `json:"dependencies"`
}

func (s *server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	answer, status := healthResponse{
		Status:    "healthy",
		Timestamp: time.Now().UTC().Format(time.RFC3339),
		Service:   s.profile.name,
		Version:   s.version,
	}, http.StatusOK
	if !s.control.snapshot().Healthy {
		answer.Status, status = "unhealthy", http.StatusServiceUnavailable
	}
	writeJSON(w, status, answer)
}

func (s *server) serveReady(w http.ResponseWriter, _ *http.Request) {
	ready := s.control.snapshot().Ready
	state, status := "connected", http.StatusOK
	if !ready {
		state, status = "disconnected", http.StatusServiceUnavailable
	}
	dependencies := make(map[string]string, len(s.profile.dependencies))
	for _, dependency := range s.profile.dependencies {
		dependencies[dependency] = state
	}
	writeJSON(w, status, readyResponse{Ready: ready, Dependencies: dependencies})
}

// serveEndpoint is one request of the service: child spans for its steps, the downstream calls,
// the injected latency and failure, then the RED metrics (trace id as exemplar) and a log line.
func (s *server) serveEndpoint(w http.ResponseWriter, r *http.Request) {
	p := s.profile
	if r.Method != p.method {
		w.Header().Set("Allow", p.method)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use " + p.method})
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	start := time.Now()
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, p.method+" "+p.endpoint, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", p.method),
			attribute.String("http.route", p.endpoint),
			attribute.String("url.path", r.URL.Path),
		))
	user, project := r.Header.Get(userHeader), r.Header.Get(projectHeader)
	if user == "" {
		user, project = randomUser()
	}
	span.SetAttributes(attribute.String("enduser.id", user), attribute.String("project.id", project))

	decided := s.control.next()
	base := p.minLatency + time.Duration(rand.Float64()*float64(p.maxLatency-p.minLatency))
	downstreamFailures := s.work(ctx, base, decided.latency)

	status, level, message := http.StatusOK, "INFO", p.message
	if decided.fail {
		status, level, message = http.StatusInternalServerError, "ERROR", "Request failed: injected error"
		span.SetStatus(codes.Error, "injected error")
	}
	took := time.Since(start)
	if !decided.fail && took > p.latencySLO {
		level, message = "WARN", fmt.Sprintf("High latency detected: %s over the %s objective", took.Round(time.Millisecond), p.latencySLO)
	}
	if len(downstreamFailures) > 0 && !decided.fail {
		level, message = "WARN", message+"; downstream failed: "+strings.Join(downstreamFailures, "; ")
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	traceID := ""
	if span.SpanContext().IsSampled() {
		traceID = span.SpanContext().TraceID().String()
	}
	writeJSON(w, status, map[string]any{"service": p.name, "trace_id": span.SpanContext().TraceID().String(), "status": status})
	span.End()

	s.metrics.observe(p, status, took, traceID)
	var model *string
	var tokens *int
	if p.model != "" && !decided.fail {
		used := p.tokens/2 + rand.IntN(p.tokens)
		model, tokens = &p.model, &used
		if p.llmMetrics {
			s.metrics.observeLLM(p.model, used)
		}
	}
	milliseconds := took.Milliseconds()
	s.logs.write(logLine{
		Level: level, UserID: &user, ProjectID: &project, TraceID: optional(span.SpanContext().TraceID().String()),
		Message: message, DurationMS: &milliseconds, Model: model, Tokens: tokens,
	})
}

// work spends the request's time: each step a share of the base latency as a child span, the
// downstream calls, and the injected latency as a span of its own (so a trace shows it). It
// returns what went wrong downstream; a downstream failure does not fail this service's request,
// so that a test raising one service's error rate moves that service's alerts only.
func (s *server) work(ctx context.Context, base, injected time.Duration) []string {
	for _, step := range s.profile.steps {
		kind := trace.SpanKindInternal
		if step.client {
			kind = trace.SpanKindClient
		}
		_, span := s.tracer.Start(ctx, step.name, trace.WithSpanKind(kind))
		if step.dbSystem != "" {
			span.SetAttributes(attribute.String("db.system", step.dbSystem))
		}
		pause(ctx, time.Duration(float64(base)*step.share))
		span.End()
	}
	var failures []string
	for _, target := range s.downstream {
		if err := s.call(ctx, target); err != nil {
			failures = append(failures, err.Error())
		}
	}
	if injected > 0 {
		_, span := s.tracer.Start(ctx, "injected latency")
		span.SetAttributes(attribute.String("standin.latency", injected.String()))
		pause(ctx, injected)
		span.End()
	}
	return failures
}

// call sends one request downstream with the trace context, as a client span.
func (s *server) call(ctx context.Context, target string) error {
	ctx, span := s.tracer.Start(ctx, "POST "+target, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("url.full", target)))
	defer span.End()
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader("{}"))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("%s: %w", target, err)
	}
	request.Header.Set("Content-Type", "application/json")
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(request.Header))
	response, err := s.client.Do(request)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("%s: %w", target, err)
	}
	defer response.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(response.Body, 1<<20))
	span.SetAttributes(attribute.Int("http.response.status_code", response.StatusCode))
	if response.StatusCode >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, response.Status)
		return fmt.Errorf("%s: %s", target, response.Status)
	}
	return nil
}

// pause waits, or returns early when the caller has gone.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// randomUser: ids in the document's form ("User-123456", "User-123456_Project_1"), from a small
// pool so that the same users come back.
func randomUser() (string, string) {
	user := fmt.Sprintf("User-%06d", 100000+rand.IntN(50))
	return user, fmt.Sprintf("%s_Project_%d", user, 1+rand.IntN(3))
}
