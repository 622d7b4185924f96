package ingest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/trackingplan"
)

// planCheck judges a message by its source's tracking plan and, when the plan flags it, marks
// it: context.violations lists what it broke, for destinations and the events debugger.
func (h *Handler) planCheck(src *kenner.Source, m *message, at time.Time) (trackingplan.Verdict, error) {
	if h.cfg.Plans == nil || src.Settings.TrackingPlan == nil {
		return trackingplan.Verdict{Action: kenner.PlanAllow}, nil
	}
	v, err := h.cfg.Plans.Check(src, m.body, at)
	if err != nil || len(v.Violations) == 0 {
		return v, err
	}
	h.metrics.planned.WithLabelValues(v.Action).Inc()
	if v.Action == kenner.PlanFlag {
		obj, err := jsonobj.Parse(m.body)
		if err != nil {
			return v, err
		}
		ctx, _ := jsonobj.Parse(obj.Get("context"))
		list, _ := json.Marshal(v.Violations)
		m.body = obj.Set("context", ctx.Set("violations", list).Encode()).Encode()
	}
	return v, nil
}

// quarantineOf is the quarantine record of a blocked message.
func quarantineOf(src *kenner.Source, m message, v trackingplan.Verdict, at time.Time) kenner.QuarantinedEvent {
	obj, _ := jsonobj.Parse(m.body)
	str := func(k string) string {
		var s string
		json.Unmarshal(obj.Get(k), &s)
		return s
	}
	return kenner.QuarantinedEvent{WorkspaceID: src.WorkspaceID, SourceID: src.ID, MessageID: m.id, Type: str("type"),
		Event: str("event"), UserID: str("userId"), AnonymousID: str("anonymousId"), Violations: v.Violations,
		Body: m.body, ReceivedAt: at}
}

// summary lists violations in one line, for a rejected import row.
func summary(vs []kenner.Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v.Path != "" {
			parts[i] = v.Path + " " + v.Message
		} else {
			parts[i] = v.Message
		}
	}
	return strings.Join(parts, "; ")
}
