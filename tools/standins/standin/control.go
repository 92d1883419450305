package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// settings is what a test may change at run time (`GET`/`POST /control`).
type settings struct {
	// ErrorRate is the share of requests answered with 500, 0 to 1.
	ErrorRate float64 `json:"errorRate"`
	// Latency is added to every request, as a Go duration ("2s", "250ms").
	Latency string `json:"latency"`
	// TrafficRate is how many requests per second the stand-in sends itself.
	TrafficRate float64 `json:"trafficRate"`
	// Ready and Healthy decide what /ready and /health answer.
	Ready   bool `json:"ready"`
	Healthy bool `json:"healthy"`
}

// settingsPatch is a `POST /control` body: absent fields keep their value.
type settingsPatch struct {
	ErrorRate   *float64 `json:"errorRate"`
	Latency     *string  `json:"latency"`
	TrafficRate *float64 `json:"trafficRate"`
	Ready       *bool    `json:"ready"`
	Healthy     *bool    `json:"healthy"`
}

// maxTrafficRate bounds the self-generated load (a stand-in must not eat the node's CPU).
const maxTrafficRate = 1000

// control holds the settings and decides, request by request, which ones fail.
type control struct {
	mu       sync.Mutex
	current  settings
	latency  time.Duration
	failDebt float64
	// changed is closed and replaced whenever the traffic rate changes.
	changed chan struct{}
}

func newControl(initial settings) (*control, error) {
	c := &control{current: initial, changed: make(chan struct{})}
	if err := c.apply(settingsPatch{}); err != nil {
		return nil, err
	}
	return c, nil
}

// decision is what one request must do.
type decision struct {
	fail    bool
	latency time.Duration
}

// next decides the next request. Failures are spread evenly rather than drawn at random, so that
// over any window the failed share equals the error rate up to one request: `errorRate: 0.25`
// fails exactly every fourth request, and tests can assert the ratio tightly.
func (c *control) next() decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failDebt += c.current.ErrorRate
	fail := c.failDebt >= 1
	if fail {
		c.failDebt--
	}
	return decision{fail: fail, latency: c.latency}
}

func (c *control) snapshot() settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// trafficRate returns the rate and a channel closed when it changes.
func (c *control) trafficRate() (float64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current.TrafficRate, c.changed
}

// apply validates a patch and applies it whole, or not at all.
func (c *control) apply(patch settingsPatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.current
	if patch.ErrorRate != nil {
		next.ErrorRate = *patch.ErrorRate
	}
	if patch.Latency != nil {
		next.Latency = *patch.Latency
	}
	if patch.TrafficRate != nil {
		next.TrafficRate = *patch.TrafficRate
	}
	if patch.Ready != nil {
		next.Ready = *patch.Ready
	}
	if patch.Healthy != nil {
		next.Healthy = *patch.Healthy
	}
	if next.ErrorRate < 0 || next.ErrorRate > 1 {
		return fmt.Errorf("errorRate: must be between 0 and 1, got %v", next.ErrorRate)
	}
	if next.Latency == "" {
		next.Latency = "0s"
	}
	latency, err := time.ParseDuration(next.Latency)
	if err != nil {
		return fmt.Errorf("latency: %q is not a duration like \"2s\" or \"250ms\"", next.Latency)
	}
	if latency < 0 || latency > 5*time.Minute {
		return fmt.Errorf("latency: must be between 0s and 5m, got %s", next.Latency)
	}
	if next.TrafficRate < 0 || next.TrafficRate > maxTrafficRate {
		return fmt.Errorf("trafficRate: must be between 0 and %d requests per second, got %v", maxTrafficRate, next.TrafficRate)
	}
	if next.ErrorRate != c.current.ErrorRate {
		c.failDebt = 0
	}
	if next.TrafficRate != c.current.TrafficRate {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.current, c.latency = next, latency
	return nil
}

// serveControl answers `GET /control` with the settings and `POST /control` with a patch.
func (s *server) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.control.snapshot())
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		var patch settingsPatch
		if err := decodeStrict(r.Body, &patch); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := s.control.apply(patch); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		now := s.control.snapshot()
		s.logs.write(logLine{Level: "INFO", Message: fmt.Sprintf(
			"control changed: errorRate=%v latency=%s trafficRate=%v ready=%v healthy=%v",
			now.ErrorRate, now.Latency, now.TrafficRate, now.Ready, now.Healthy)})
		writeJSON(w, http.StatusOK, now)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or POST"})
	}
}

// decodeStrict decodes one JSON object, refusing unknown fields and trailing data.
func decodeStrict(body io.Reader, into any) error {
	data, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(into); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if decoder.More() {
		return errors.New("body: more than one JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(value)
}
