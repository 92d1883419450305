package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// maxInFlight bounds the self-generated requests waiting at once (slow requests at a high rate).
const maxInFlight = 512

// traffic sends the stand-in its own requests at the controlled rate, over HTTP through its own
// listener, so that every layer a real request passes (server, metrics, tracing, logs) moves
// without an outside load generator.
type traffic struct {
	target   string
	client   *http.Client
	control  *control
	inFlight chan struct{}
	skipped  atomic.Uint64
	logs     *logger
}

func newTraffic(target string, c *control, logs *logger) *traffic {
	return &traffic{
		target:   target,
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		control:  c,
		inFlight: make(chan struct{}, maxInFlight),
		logs:     logs,
	}
}

func (t *traffic) run(ctx context.Context) {
	for {
		rate, changed := t.control.trafficRate()
		if rate <= 0 {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		ticker := time.NewTicker(time.Duration(float64(time.Second) / rate))
		running := true
		for running {
			select {
			case <-ticker.C:
				t.send(ctx)
			case <-changed:
				running = false
			case <-ctx.Done():
				ticker.Stop()
				return
			}
		}
		ticker.Stop()
	}
}

// send starts one request unless maxInFlight are still waiting (then the tick is skipped and
// counted; a skip is logged once per hundred).
func (t *traffic) send(ctx context.Context) {
	select {
	case t.inFlight <- struct{}{}:
	default:
		if skipped := t.skipped.Add(1); skipped%100 == 1 {
			t.logs.write(logLine{Level: "WARN", Message: fmt.Sprintf(
				"self-generated traffic: %d requests in flight, %d skipped so far", maxInFlight, skipped)})
		}
		return
	}
	go func() {
		defer func() { <-t.inFlight }()
		request, err := http.NewRequestWithContext(ctx, http.MethodPost, t.target, strings.NewReader("{}"))
		if err != nil {
			return
		}
		user, project := randomUser()
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set(userHeader, user)
		request.Header.Set(projectHeader, project)
		response, err := t.client.Do(request)
		if err != nil {
			// The server logs what it served; a refused connection means it is shutting down.
			return
		}
		_, _ = io.Copy(io.Discard, response.Body)
		_ = response.Body.Close()
	}()
}
