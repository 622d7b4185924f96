package main

import (
	"context"
	"sync"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/profile"
	"github.com/kenner-cdp/kenner/segment"
)

// processConfig turns the identity and trait settings into the processor's configuration:
// Segment's recommended rules, with what the settings change.
func processConfig(cfg config, store kenner.Store) process.Config {
	rules := identity.DefaultRules()
	if len(cfg.IdentityPriority) > 0 {
		rules.Priority = cfg.IdentityPriority
	}
	for kind, n := range cfg.IdentityLimits {
		rules.Limits[kind] = n
	}
	for kind, values := range cfg.IdentityBlocked {
		rules.Blocked[kind] = append(rules.Blocked[kind], values...)
	}
	pc := process.Config{
		Rules:       rules,
		Normalizer:  identity.Normalizer{DefaultRegion: cfg.DefaultRegion},
		ExternalIDs: cfg.ExternalIDs,
		Policy:      profile.Policy{SourcePriority: cfg.TraitSourcePriority, TouchRules: analytics.DefaultRules()},
		Segments:    segment.Options{CostLimit: cfg.SegmentCostLimit},
		Consent:     cfg.Consent,
		PII:         cfg.PII,
		SharedLimit: cfg.SharedLimit,
	}
	if len(cfg.TraitSourcePriority) > 0 {
		pc.Policy.SourceName = (&sourceNames{store: store, names: map[string]string{}}).name
	}
	return pc
}

// sourceNames maps source ids to names for the trait policy, reloading on a miss (a source
// created since the last load).
type sourceNames struct {
	store kenner.Store
	mu    sync.Mutex
	names map[string]string
}

func (s *sourceNames) name(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.names[id]; ok {
		return n
	}
	ctx := context.Background()
	wss, err := s.store.Workspaces(ctx)
	if err != nil {
		return ""
	}
	for _, w := range wss {
		srcs, err := s.store.Sources(ctx, w.ID)
		if err != nil {
			return ""
		}
		for _, src := range srcs {
			s.names[src.ID] = src.Name
		}
	}
	return s.names[id]
}
