package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// logLine is the observability document's structured log line, its fields in the document's
// order. model and tokens are null for services that call no language model; the ids are null
// on lines no request caused.
type logLine struct {
	Timestamp  string  `json:"timestamp"`
	Level      string  `json:"level"`
	Service    string  `json:"service"`
	UserID     *string `json:"user_id"`
	ProjectID  *string `json:"project_id"`
	TraceID    *string `json:"trace_id"`
	Message    string  `json:"message"`
	DurationMS *int64  `json:"duration_ms"`
	Model      *string `json:"model"`
	Tokens     *int    `json:"tokens"`
}

// logger writes one JSON object per line; the timestamp and service are filled in here.
type logger struct {
	mu      sync.Mutex
	out     *json.Encoder
	service string
	now     func() time.Time
}

func newLogger(out io.Writer, service string) *logger {
	return &logger{out: json.NewEncoder(out), service: service, now: time.Now}
}

// timestampLayout: UTC with milliseconds, as the document's example ("2025-12-30T10:30:15.123Z").
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

func (l *logger) write(line logLine) {
	line.Timestamp = l.now().UTC().Format(timestampLayout)
	line.Service = l.service
	l.mu.Lock()
	defer l.mu.Unlock()
	// A closed stdout leaves nothing to report the failure to.
	_ = l.out.Encode(line)
}

func optional[T comparable](value T) *T {
	var zero T
	if value == zero {
		return nil
	}
	return &value
}
