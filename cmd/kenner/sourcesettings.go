package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// sourceSettingsCmds are the source subcommands for webhooks and tracking plans.
func sourceSettingsCmds() []*cobra.Command {
	webhook := &cobra.Command{
		Use:   "webhook NAME",
		Short: "Set the webhook mapping of a source (payloads posted to /v1/webhooks/ID become events)",
		Long: `Sets how JSON payloads posted to /v1/webhooks/<source id> become events: a ready mapping
(--preset shopify, stripe, postmark, woocommerce, typeform, calendly, zendesk or intercom), or a mapping file (YAML or JSON, see the README), and the secret
of the sender's signatures. --show-preset P prints a preset's mapping, a start for your own.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: runSourceWebhook,
	}
	f := webhook.Flags()
	f.String("preset", "", "a ready mapping: "+fmt.Sprint(inbound.Presets()))
	f.String("map", "", "mapping file (YAML or JSON)")
	f.String("signing-secret-file", "", "file holding the signing secret (Shopify app secret, Stripe whsec_...)")
	f.Bool("remove", false, "remove the webhook mapping")
	f.String("show-preset", "", "print a preset's mapping and exit")

	plan := &cobra.Command{
		Use:   "plan NAME --plan FILE",
		Short: "Set the tracking plan of a source (JSON Schemas per event and for identify traits)",
		Long: `FILE (YAML or JSON): {"mode": "allow|flag|block", "unplanned": "allow|flag|block",
"events": {"Order Completed": <JSON Schema of properties>}, "identify": <JSON Schema of traits>}.`,
		Args: cobra.ExactArgs(1),
		RunE: runSourcePlan,
	}
	plan.Flags().String("plan", "", "tracking plan file (YAML or JSON)")
	plan.Flags().Bool("remove", false, "remove the tracking plan")

	violations := &cobra.Command{
		Use:   "violations NAME",
		Short: "Show the tracking plan violations of a source, most frequent first",
		Args:  cobra.ExactArgs(1),
		RunE:  runSourceViolations,
	}
	return []*cobra.Command{webhook, plan, violations}
}

// saveSettings applies change to a source's settings, through the server or on the store.
func saveSettings(cmd *cobra.Command, name, endpoint string, body any, change func(*kenner.SourceSettings)) (*kenner.Source, error) {
	var src kenner.Source
	err := withAdmin(cmd, func(c *apiClient) error {
		method := "PUT"
		if body == nil {
			method = "DELETE"
		}
		if method == "DELETE" {
			return c.do(cmd.Context(), method, "/v1/sources/"+name+"/"+endpoint, nil, nil)
		}
		return c.do(cmd.Context(), method, "/v1/sources/"+name+"/"+endpoint, body, &src)
	}, func(l *local) error {
		s, err := l.store.SourceByName(cmd.Context(), l.cfg.Workspace, name)
		if err != nil {
			return err
		}
		change(&s.Settings)
		src = *s
		return l.store.UpdateSourceSettings(cmd.Context(), s.WorkspaceID, s.ID, s.Settings)
	})
	if kenner.ErrorCode(err) == kenner.ENotFound || kenner.ErrorCode(err) == kenner.EInvalid {
		return nil, usageError{errors.New(kenner.ErrorMessage(err))}
	}
	return &src, err
}

func runSourceWebhook(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	if p, _ := f.GetString("show-preset"); p != "" {
		b, err := inbound.PresetSource(p)
		if err != nil {
			return usageError{errors.New(kenner.ErrorMessage(err))}
		}
		_, err = cmd.OutOrStdout().Write(b)
		return err
	}
	if len(args) != 1 {
		return usageError{errors.New("name the source: kenner source webhook NAME --preset P | --map FILE")}
	}
	if remove, _ := f.GetBool("remove"); remove {
		_, err := saveSettings(cmd, args[0], "webhook", nil, func(s *kenner.SourceSettings) { s.Webhook = nil })
		return err
	}
	var m kenner.WebhookMapping
	if path, _ := f.GetString("map"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageError{fmt.Errorf("--map: %w", err)}
		}
		if m, err = inbound.ParseMapping(b); err != nil {
			return usageError{fmt.Errorf("--map %s: %s", path, kenner.ErrorMessage(err))}
		}
	}
	if p, _ := f.GetString("preset"); p != "" {
		m.Preset = p
	}
	if path, _ := f.GetString("signing-secret-file"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageError{fmt.Errorf("--signing-secret-file: %w", err)}
		}
		if m.Verify == nil {
			m.Verify = &kenner.WebhookVerify{}
		}
		m.Verify.Secret = string(trimNewline(b))
	}
	if _, err := inbound.Compile(m); err != nil {
		return usageError{errors.New(kenner.ErrorMessage(err))}
	}
	src, err := saveSettings(cmd, args[0], "webhook", m, func(s *kenner.SourceSettings) { s.Webhook = &m })
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "webhook URL: <kenner>/v1/webhooks/%s\n", src.ID)
	return nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func runSourcePlan(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	if remove, _ := f.GetBool("remove"); remove {
		_, err := saveSettings(cmd, args[0], "tracking-plan", nil, func(s *kenner.SourceSettings) { s.TrackingPlan = nil })
		return err
	}
	path, _ := f.GetString("plan")
	if path == "" {
		return usageError{errors.New("--plan FILE is required (or --remove)")}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Errorf("--plan: %w", err)}
	}
	// YAML is read as the JSON it stands for, so that schemas can be written in either.
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return usageError{fmt.Errorf("--plan %s: %v", path, err)}
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return usageError{fmt.Errorf("--plan %s: %v", path, err)}
	}
	var p kenner.TrackingPlan
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return usageError{fmt.Errorf("--plan %s: %v", path, err)}
	}
	if _, err := trackingplan.Compile(p); err != nil {
		return usageError{errors.New(kenner.ErrorMessage(err))}
	}
	if p.Mode == "" {
		p.Mode = kenner.PlanAllow
	}
	_, err = saveSettings(cmd, args[0], "tracking-plan", p, func(s *kenner.SourceSettings) { s.TrackingPlan = &p })
	return err
}

func runSourceViolations(cmd *cobra.Command, args []string) error {
	var vs []kenner.ViolationCount
	err := withAdmin(cmd, func(c *apiClient) error {
		var out struct{ Violations []kenner.ViolationCount }
		err := c.do(cmd.Context(), "GET", "/v1/sources/"+args[0]+"/violations", nil, &out)
		vs = out.Violations
		return err
	}, func(l *local) error {
		s, err := l.store.SourceByName(cmd.Context(), l.cfg.Workspace, args[0])
		if err != nil {
			return err
		}
		vs, err = l.store.Violations(cmd.Context(), l.cfg.Workspace, s.ID)
		return err
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNT\tEVENT\tPATH\tVIOLATION\tLAST SEEN")
	for _, v := range vs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Count, v.Event, v.Path, v.Message, v.LastSeen.Format(time.RFC3339))
	}
	return tw.Flush()
}
