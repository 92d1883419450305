package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds a webhook body (Slack and PagerDuty refuse far smaller ones).
const maxBody = 1 << 20

type catcher struct {
	store *store
	logs  *logger
}

func (c *catcher) routes() http.Handler {
	mux := http.NewServeMux()
	// A Slack incoming-webhook URL is https://hooks.slack.com/services/T…/B…/…: any path under
	// /slack/ or /services/ is a webhook here.
	mux.HandleFunc("/slack", c.serveSlack)
	mux.HandleFunc("/slack/", c.serveSlack)
	mux.HandleFunc("/services/", c.serveSlack)
	// PagerDuty Events API v2 (events.pagerduty.com/v2/enqueue).
	mux.HandleFunc("/v2/enqueue", c.servePagerDuty)
	// Any other webhook (a dead man's switch): Alertmanager's webhook JSON under /webhook/.
	mux.HandleFunc("/webhook/", c.serveWebhook)
	mux.HandleFunc("/received", c.serveReceived)
	mux.HandleFunc("/health", serveOK)
	mux.HandleFunc("/ready", serveOK)
	return mux
}

func serveOK(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readJSON reads a POST body as one JSON value; the error is what to answer.
func readJSON(w http.ResponseWriter, r *http.Request) (any, []byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return nil, nil, false
	}
	var payload any
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	if err := decoder.Decode(&payload); err != nil {
		return nil, body, true
	}
	return payload, body, true
}

func describe(r *http.Request) *requestInfo {
	return &requestInfo{
		Method: r.Method, Path: r.URL.Path,
		ContentType: r.Header.Get("Content-Type"), UserAgent: r.Header.Get("User-Agent"),
	}
}

// serveSlack answers as Slack's incoming webhooks do: 200 "ok", 400 "invalid_payload" for a
// body that is not JSON, 400 "no_text" for a message without text, attachments or blocks.
func (c *catcher) serveSlack(w http.ResponseWriter, r *http.Request) {
	payload, raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	status, answer := http.StatusOK, "ok"
	message, isObject := payload.(map[string]any)
	switch {
	case payload == nil || !isObject:
		status, answer = http.StatusBadRequest, "invalid_payload"
	case !hasContent(message["text"]) && !hasContent(message["attachments"]) && !hasContent(message["blocks"]):
		status, answer = http.StatusBadRequest, "no_text"
	}
	if payload == nil {
		payload = string(raw)
	}
	kept := c.store.add(record{Receiver: receiverSlack, Status: status, Request: describe(r), Payload: payload})
	c.logs.received(kept, answer)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// serveWebhook records any JSON body and answers 200, as a dead man's switch service does; a
// body that is not JSON gets 400.
func (c *catcher) serveWebhook(w http.ResponseWriter, r *http.Request) {
	payload, raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	status, answer := http.StatusOK, "ok"
	if payload == nil {
		status, answer, payload = http.StatusBadRequest, "invalid_payload", string(raw)
	}
	kept := c.store.add(record{Receiver: receiverWebhook, Status: status, Request: describe(r), Payload: payload})
	c.logs.received(kept, answer)
	writeJSON(w, status, map[string]string{"status": answer})
}

func hasContent(value any) bool {
	switch v := value.(type) {
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	default:
		return false
	}
}

// pagerDutyAnswer is the Events API v2 response body.
type pagerDutyAnswer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// pagerDutySeverities and pagerDutyActions: what the Events API v2 accepts.
var (
	pagerDutySeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}
	pagerDutyActions    = map[string]bool{"trigger": true, "acknowledge": true, "resolve": true}
)

// servePagerDuty answers as PagerDuty's Events API v2 does: 202 with status "success", the
// message "Event processed" and the dedup key (made up when the event has none), or 400 with
// status "invalid event" and the reasons.
func (c *catcher) servePagerDuty(w http.ResponseWriter, r *http.Request) {
	payload, raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	event, isObject := payload.(map[string]any)
	var problems []string
	if payload == nil || !isObject {
		problems = append(problems, "Invalid JSON or not an object")
	} else {
		problems = validateEvent(event)
	}
	answer, status := pagerDutyAnswer{Status: "success", Message: "Event processed"}, http.StatusAccepted
	if len(problems) > 0 {
		answer, status = pagerDutyAnswer{Status: "invalid event", Message: "Event object is invalid", Errors: problems},
			http.StatusBadRequest
	} else if key, _ := event["dedup_key"].(string); key != "" {
		answer.DedupKey = key
	} else {
		answer.DedupKey = newDedupKey()
	}
	if payload == nil {
		payload = string(raw)
	}
	kept := c.store.add(record{Receiver: receiverPagerDuty, Status: status, Request: describe(r), Payload: payload})
	c.logs.received(kept, answer.Message)
	writeJSON(w, status, answer)
}

// validateEvent checks the fields PagerDuty requires of an event.
func validateEvent(event map[string]any) []string {
	var problems []string
	key, _ := event["routing_key"].(string)
	if len(key) != 32 {
		problems = append(problems, "'routing_key' must be a 32 character integration key")
	}
	action, _ := event["event_action"].(string)
	if !pagerDutyActions[action] {
		problems = append(problems, "'event_action' must be one of trigger, acknowledge, resolve")
	}
	if action != "trigger" {
		if dedup, _ := event["dedup_key"].(string); action != "" && dedup == "" {
			problems = append(problems, "'dedup_key' is required for "+action+" events")
		}
		return problems
	}
	details, _ := event["payload"].(map[string]any)
	for _, field := range []string{"summary", "source"} {
		if value, _ := details[field].(string); strings.TrimSpace(value) == "" {
			problems = append(problems, fmt.Sprintf("'payload.%s' is missing or blank", field))
		}
	}
	if severity, _ := details["severity"].(string); !pagerDutySeverities[severity] {
		problems = append(problems, "'payload.severity' must be one of critical, error, warning, info")
	}
	return problems
}

func newDedupKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serveReceived: `GET /received[?receiver=slack|pagerduty|email|webhook]` lists what arrived, oldest
// first; `DELETE /received[?receiver=…]` forgets it.
func (c *catcher) serveReceived(w http.ResponseWriter, r *http.Request) {
	receiver, err := receiverParameter(r.URL.Query().Get("receiver"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, c.store.list(receiver))
	case http.MethodDelete:
		writeJSON(w, http.StatusOK, map[string]int{"forgotten": c.store.reset(receiver)})
	default:
		w.Header().Set("Allow", "GET, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or DELETE"})
	}
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(value)
}
