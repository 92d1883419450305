package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// The receivers the catcher plays.
const (
	receiverSlack     = "slack"
	receiverPagerDuty = "pagerduty"
	receiverEmail     = "email"
	// receiverWebhook: any other webhook, e.g. a dead man's switch (Alertmanager's webhook_config).
	receiverWebhook = "webhook"
)

var receivers = []string{receiverEmail, receiverPagerDuty, receiverSlack, receiverWebhook}

// record is one message as it arrived: which receiver got it, when, in which order, and what it
// said, parsed.
type record struct {
	Receiver string    `json:"receiver"`
	Sequence uint64    `json:"sequence"`
	Time     time.Time `json:"time"`
	// Status is the HTTP status or SMTP code the catcher answered with.
	Status int `json:"status"`
	// Request describes an HTTP delivery (webhooks), Envelope an SMTP one.
	Request  *requestInfo  `json:"request,omitempty"`
	Envelope *envelopeInfo `json:"envelope,omitempty"`
	// Payload is the parsed JSON body, or the parsed mail.
	Payload any `json:"payload"`
}

type requestInfo struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"contentType"`
	UserAgent   string `json:"userAgent"`
}

// store keeps every record in memory, in arrival order; nothing is written to disk.
type store struct {
	mu       sync.Mutex
	records  []record
	sequence uint64
	limit    int
}

func newStore(limit int) *store { return &store{limit: limit} }

func (s *store) add(r record) record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sequence++
	r.Sequence = s.sequence
	r.Time = time.Now().UTC()
	s.records = append(s.records, r)
	// Oldest first out, so a long-running catcher keeps a bounded memory.
	if len(s.records) > s.limit {
		s.records = append([]record(nil), s.records[len(s.records)-s.limit:]...)
	}
	return r
}

// list returns the records of one receiver ("" for all), oldest first.
func (s *store) list(receiver string) []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []record{}
	for _, r := range s.records {
		if receiver == "" || r.Receiver == receiver {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets the records of one receiver ("" for all) and returns how many it forgot.
func (s *store) reset(receiver string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.records[:0]
	for _, r := range s.records {
		if receiver != "" && r.Receiver != receiver {
			kept = append(kept, r)
		}
	}
	forgotten := len(s.records) - len(kept)
	s.records = kept
	return forgotten
}

// receiverParameter validates `?receiver=`: empty (all) or one of the receivers.
func receiverParameter(value string) (string, error) {
	if value == "" {
		return "", nil
	}
	for _, known := range receivers {
		if value == known {
			return value, nil
		}
	}
	known := append([]string(nil), receivers...)
	sort.Strings(known)
	return "", fmt.Errorf("receiver: unknown %q (known: %s)", value, strings.Join(known, ", "))
}
