package storetest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/script"
	"github.com/kenner-cdp/kenner/process"
	"github.com/prometheus/client_golang/prometheus"
)

// RunScenarios runs the profile scenarios in storetest/testdata through the real processor
// and a store made by open. Each file is a list of commands, each followed by "----" and the
// output it must print, then a blank line (commands that print nothing need no "----"):
//
//	config limit KIND=N | priority K1,K2 | block KIND=VALUE | external KIND | region CC | source-priority S1,S2 | shared-limit N
//	identify|track|page|screen|group|alias FIELD=VALUE ...
//	    user=, anon=, previous= (alias), group= (group), event= (track), name= (page),
//	    email=, phone=, KIND= (a trait or external id), traits=JSON, source=NAME, id=MESSAGEID,
//	    at=RFC3339 (default: 2024-01-01 plus one minute per event), ctx=JSON (context),
//	    props=JSON (properties)
//	profile KIND:VALUE       the profile: id, identities, traits, groups, first and last seen
//	events KIND:VALUE        its timeline, newest first: message ids
//	merges KIND:VALUE        its identity decisions, newest first
//	split KIND:VALUE KIND:VALUE ...   move identifiers out; prints the two profiles
//	replay                   rebuild everything from the log (ResetDerived, apply again)
//	computed {JSON}          create or replace a computed trait (kenner.ComputedTrait as JSON)
//	segment NAME CONDITION   create a segment, or change the condition of the one so named
//	build                    recompute every profile for the definitions (the Builder's build)
//	clock RFC3339            set the clock windows are measured against (default 2024-01-02)
//	sweep                    re-evaluate the profiles whose windowed values moved (the sweep)
//	members NAME             the segment's members
//	changes                  the changes stream since the last "changes"
//	blocked                  the shared-value guard's list: kind:value people [allowed]
//
// Events are sent to the log as they come and applied in one batch when a command reads.
// Profile ids print as P<n>: the profile created by the n-th event.
func RunScenarios(t *testing.T, open Opener) {
	_, self, _, _ := runtime.Caller(0)
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(self), "testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenarios in storetest/testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			newScenario(t, s).run(t, file)
		})
	}
}

type scenario struct {
	store   kenner.Store
	cfg     process.Config
	sources map[string]string // name → id
	log     []kenner.LogRecord
	pending int // records not yet applied
	seq     uint64
	now     time.Time
	changes int64 // the last change printed
}

func newScenario(t *testing.T, s kenner.Store) *scenario {
	mustWorkspace(t, s, "ws")
	sc := &scenario{store: s, cfg: process.DefaultConfig(), sources: map[string]string{},
		now: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	sc.cfg.Now = func() time.Time { return sc.now }
	for _, name := range []string{"web", "crm", "shop"} {
		src := &kenner.Source{WorkspaceID: "ws", Name: name, WriteKeyHash: "key-" + name}
		if err := s.CreateSource(ctx(t), src); err != nil {
			t.Fatal(err)
		}
		sc.sources[name] = src.ID
	}
	sc.cfg.Policy.SourceName = func(id string) string {
		for n, sid := range sc.sources {
			if sid == id {
				return n
			}
		}
		return ""
	}
	return sc
}

func (sc *scenario) processor() *process.Processor {
	return process.New(nil, sc.store, sc.cfg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// flush applies the records sent since the last read, as one batch.
func (sc *scenario) flush(ctx context.Context) error {
	if sc.pending == 0 {
		return nil
	}
	recs := sc.log[len(sc.log)-sc.pending:]
	sc.pending = 0
	return sc.processor().Apply(ctx, 0, recs)
}

func (sc *scenario) run(t *testing.T, file string) {
	var rewritten strings.Builder
	for _, b := range script.Read(t, file) {
		got, err := sc.exec(t, b.Command)
		if err != nil {
			got = "error: " + err.Error() + "\n"
		}
		for _, c := range b.Comments {
			rewritten.WriteString(c + "\n")
		}
		rewritten.WriteString(b.Command + "\n")
		if got != "" {
			rewritten.WriteString("----\n" + got + "\n")
		}
		if got != b.Expected && !*rewrite {
			t.Errorf("%s:%d: %s\ngot:\n%swant:\n%s", file, b.Line, b.Command, got, b.Expected)
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrite makes RunScenarios write what the commands print into the files (go test -args
// -rewrite), for a new scenario; read the result before committing it.
var rewrite = flag.Bool("rewrite", false, "rewrite storetest scenario files with the actual output")

func (sc *scenario) exec(t *testing.T, command string) (string, error) {
	ctx := ctx(t)
	verb, rest, _ := strings.Cut(command, " ")
	fields := splitFields(rest)
	switch verb {
	case "config":
		return "", sc.configure(fields)
	case "identify", "track", "page", "screen", "group", "alias":
		return "", sc.send(verb, fields)
	case "replay":
		if err := sc.flush(ctx); err != nil {
			return "", err
		}
		if err := sc.store.ResetDerived(ctx); err != nil {
			return "", err
		}
		return "", sc.processor().Apply(ctx, 0, sc.log)
	case "computed", "segment", "clock", "build", "sweep", "members", "changes":
		if err := sc.flush(ctx); err != nil {
			return "", err
		}
		return sc.audience(ctx, verb, rest)
	case "blocked":
		if err := sc.flush(ctx); err != nil {
			return "", err
		}
		list, err := sc.store.BlockedIdentifiers(ctx, "ws")
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, bl := range list {
			fmt.Fprintf(&b, "%s people=%d allowed=%v\n", bl.Identifier, bl.Profiles, bl.Allowed)
		}
		return b.String(), nil
	}
	if err := sc.flush(ctx); err != nil {
		return "", err
	}
	if len(fields) == 0 {
		return "", fmt.Errorf("%s needs KIND:VALUE", verb)
	}
	ref, err := parseRef(fields[0])
	if err != nil {
		return "", err
	}
	switch verb {
	case "profile":
		p, err := sc.store.Profile(ctx, "ws", ref)
		if err != nil {
			return "", err
		}
		return sc.render(p), nil
	case "events":
		p, err := sc.store.Profile(ctx, "ws", ref)
		if err != nil {
			return "", err
		}
		evs, _, err := sc.store.Events(ctx, kenner.EventFilter{WorkspaceID: "ws", ProfileID: p.ID})
		if err != nil {
			return "", err
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.MessageID)
		}
		return strings.Join(ids, " ") + "\n", nil
	case "merges":
		p, err := sc.store.Profile(ctx, "ws", ref)
		if err != nil {
			return "", err
		}
		ds, _, err := sc.store.Decisions(ctx, "ws", p.ID, 0, 100)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, d := range ds {
			fmt.Fprintf(&b, "%s %s", d.Action, d.Identifier)
			if d.From != "" {
				fmt.Fprintf(&b, " from %s", sc.name(d.From))
			}
			if d.MessageID != "" {
				fmt.Fprintf(&b, " by %s", d.MessageID)
			}
			fmt.Fprintf(&b, ": %s\n", d.Reason)
		}
		return b.String(), nil
	case "split":
		var out []kenner.Identifier
		for _, f := range fields[1:] {
			id, err := parseRef(f)
			if err != nil {
				return "", err
			}
			out = append(out, id)
		}
		kept, moved, err := sc.processor().Split(ctx, "ws", ref, out)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("kept %s moved %s\n", sc.name(kept), sc.name(moved)), nil
	}
	return "", fmt.Errorf("unknown command %q", verb)
}

func (sc *scenario) configure(fields []string) error {
	if len(fields) != 2 {
		return fmt.Errorf("config SETTING VALUE")
	}
	v := fields[1]
	switch fields[0] {
	case "limit":
		k, n, _ := strings.Cut(v, "=")
		sc.cfg.Rules.Limits[k], _ = strconv.Atoi(n)
	case "priority":
		sc.cfg.Rules.Priority = strings.Split(v, ",")
	case "block":
		k, val, _ := strings.Cut(v, "=")
		sc.cfg.Rules.Blocked[k] = append(sc.cfg.Rules.Blocked[k], val)
	case "external":
		sc.cfg.ExternalIDs = append(sc.cfg.ExternalIDs, v)
	case "region":
		sc.cfg.Normalizer.DefaultRegion = v
	case "source-priority":
		sc.cfg.Policy.SourcePriority = strings.Split(v, ",")
	case "shared-limit":
		sc.cfg.SharedLimit, _ = strconv.Atoi(v)
	default:
		return fmt.Errorf("unknown setting %q", fields[0])
	}
	return nil
}

// send appends one event to the log as a record of its own.
func (sc *scenario) send(typ string, fields []string) error {
	sc.seq++
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(sc.seq) * time.Minute)
	msg := map[string]any{"type": typ, "messageId": fmt.Sprintf("m%d", sc.seq)}
	traits := map[string]any{}
	ctxObj := map[string]any{}
	source := "web"
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("%q is not FIELD=VALUE", f)
		}
		if k != "traits" && k != "ctx" && k != "props" {
			// Values are URL-escaped, so that a scenario can show spaces (%20).
			var err error
			if v, err = url.PathUnescape(v); err != nil {
				return err
			}
		}
		switch k {
		case "user":
			msg["userId"] = v
		case "anon":
			msg["anonymousId"] = v
		case "previous":
			msg["previousId"] = v
		case "group":
			msg["groupId"] = v
		case "event":
			msg["event"] = v
		case "name":
			msg["name"] = v
		case "id":
			msg["messageId"] = v
		case "source":
			source = v
		case "at":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return err
			}
			at = t
		case "traits":
			if err := json.Unmarshal([]byte(v), &traits); err != nil {
				return fmt.Errorf("traits: %w", err)
			}
		case "ctx":
			if err := json.Unmarshal([]byte(v), &ctxObj); err != nil {
				return fmt.Errorf("ctx: %w", err)
			}
		case "props":
			var props map[string]any
			if err := json.Unmarshal([]byte(v), &props); err != nil {
				return fmt.Errorf("props: %w", err)
			}
			msg["properties"] = props
		default:
			traits[k] = v
		}
	}
	if len(traits) > 0 {
		if typ == "identify" || typ == "group" {
			msg["traits"] = traits
		} else {
			ctxObj["traits"] = traits
		}
	}
	if len(ctxObj) > 0 {
		msg["context"] = ctxObj
	}
	msg["timestamp"] = at.Format(time.RFC3339Nano)
	msg["receivedAt"] = at.Format(time.RFC3339Nano)
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	sc.log = append(sc.log, kenner.LogRecord{Seq: sc.seq, WorkspaceID: "ws", SourceID: sc.sources[source], Events: [][]byte{body}})
	sc.pending++
	return nil
}

// name prints a profile id as P<n>, n being the log sequence of the event that created it.
func (sc *scenario) name(id string) string {
	if id == "" {
		return "-"
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "prf_"), 36, 64)
	if err != nil {
		return id
	}
	return "P" + strconv.FormatInt(n>>16, 10)
}

func (sc *scenario) render(p *kenner.Profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", sc.name(p.ID))
	var ids []string
	for _, i := range p.Identities {
		ids = append(ids, i.String())
	}
	slices.Sort(ids)
	fmt.Fprintf(&b, "  identities: %s\n", strings.Join(ids, " "))
	if len(p.Traits) > 0 {
		var names []string
		for n := range p.Traits {
			names = append(names, n)
		}
		slices.Sort(names)
		var parts []string
		for _, n := range names {
			tr := p.Traits[n]
			src := ""
			for name, id := range sc.sources {
				if id == tr.SourceID {
					src = name
				}
			}
			parts = append(parts, fmt.Sprintf("%s=%s (%s %s)", n, tr.Value, src, tr.MessageID))
		}
		fmt.Fprintf(&b, "  traits: %s\n", strings.Join(parts, " "))
	}
	if len(p.Groups) > 0 {
		var gs []string
		for id, g := range p.Groups {
			gs = append(gs, id+string(g.Traits))
		}
		slices.Sort(gs)
		fmt.Fprintf(&b, "  groups: %s\n", strings.Join(gs, " "))
	}
	fmt.Fprintf(&b, "  seen: %s .. %s\n", p.FirstSeen.Format("15:04"), p.LastSeen.Format("15:04"))
	if eng, err := sc.processor().Engine(context.Background(), "ws"); err == nil {
		if c := eng.Computed(p, sc.now); len(c) > 0 {
			out, _ := json.Marshal(c)
			fmt.Fprintf(&b, "  computed: %s\n", out)
		}
	}
	if len(p.Segments) > 0 {
		var names []string
		for id := range p.Segments {
			names = append(names, sc.segmentName(id))
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "  segments: %s\n", strings.Join(names, " "))
	}
	return b.String()
}

func parseRef(s string) (kenner.Identifier, error) {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return kenner.Identifier{}, fmt.Errorf("%q is not KIND:VALUE", s)
	}
	if k == "id" && strings.HasPrefix(v, "P") {
		n, err := strconv.ParseInt(v[1:], 10, 64)
		if err == nil {
			v = process.ProfileID(n << 16)
		}
	}
	return kenner.Identifier{Kind: k, Value: v}, nil
}

// splitFields splits on spaces outside JSON braces, so that traits={"a": 1} stays one field.
func splitFields(s string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '{' || r == '[':
			depth++
		case r == '}' || r == ']':
			depth--
		case r == ' ' && depth == 0:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
