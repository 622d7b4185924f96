package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kenner-cdp/kenner/predict"
)

func newPredictCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "predict", Short: "Define, train and inspect prediction models, and read a profile's scores (through a running server)",
		Long: `Prediction models score every profile; the scores are in the profile document and in CEL
conditions as predictions.<model name>.

  clv         BG/NBD and Gamma-Gamma fitted to an order event: predictions.<name>.p_alive,
              .expected_purchases and .clv over the horizon, .expected_value of an order,
              .orders, and .rfm {r, f, m, score, segment} (Champions ... Lost).
  classifier  logistic regression of a label (a CEL condition: churned, bought within 30 days,
              in a seed segment for lookalikes) on the profile's traits and computed traits:
              predictions.<name> is the probability.
  lead        points for events, page visits and profile conditions, fading by a half-life,
              and stages: predictions.<name>.score and .stage; crossings go to destinations
              subscribed to leads (lead.stage_changed).
  affinity    products bought together: predictions.<name>.items, the products to offer.

Examples:
  kenner predict create clv --kind clv --event "Order Completed" --revenue properties.revenue
  kenner predict create churn --kind classifier --label 'traits.plan_cancelled == true'
  kenner predict create recs --kind affinity --top 3
  kenner predict create lead --file lead.json
  kenner predict train clv --wait
  kenner predict show churn
  kenner predict score user_id:42`}

	ls := apiCommand("list", "List models with their status and headline metric", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/models", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, m := range list(out["models"]) {
					m := obj(m)
					rows = append(rows, []string{str(m["id"]), str(m["name"]), str(m["kind"]), str(m["status"]), str(m["version"]), headline(m)})
				}
				return table(w, "ID\tNAME\tKIND\tSTATUS\tVERSION\tMETRIC", rows)
			}, nil
		})

	create := apiCommand("create NAME", "Define a model (it scores nothing until trained)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			def := map[string]any{}
			f := cmd.Flags()
			if file, _ := f.GetString("file"); file != "" {
				var err error
				if def, err = readJSONArg(cmd, file); err != nil {
					return nil, nil, err
				}
			}
			def["name"] = args[0]
			for _, name := range []string{"kind", "event", "revenue", "calibration-end", "label", "retrain", "item"} {
				if v, _ := f.GetString(name); v != "" {
					def[strings.ReplaceAll(name, "-", "_")] = v
				}
			}
			if v, _ := f.GetInt("horizon-days"); v != 0 {
				def["horizon_days"] = v
			}
			if v, _ := f.GetInt("top"); v != 0 {
				def["top"] = v
			}
			if v, _ := f.GetFloat64("discount-rate"); v != 0 {
				def["discount_rate"] = v
			}
			if v, _ := f.GetStringSlice("feature"); len(v) > 0 {
				def["features"] = v
			}
			var m map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/models", def, &m); err != nil {
				return nil, nil, err
			}
			return m, func(w io.Writer) error {
				return table(w, "ID\tNAME\tKIND\tSTATUS", [][]string{{str(m["id"]), str(m["name"]), str(m["kind"]), str(m["status"])}})
			}, nil
		})
	cf := create.Flags()
	cf.String("kind", "", "clv, classifier, lead or affinity (required unless --file gives it)")
	cf.String("file", "", `JSON definition (FILE, or - for standard input), e.g. a lead model's {"kind": "lead", "rules": [...], "stages": [...], "half_life": "30d"}; flags override it`)
	cf.String("item", "", "affinity: dotted path of an order's products (default properties.products.product_id)")
	cf.Int("top", 0, "affinity: products recommended per person (default 5)")
	cf.String("event", "", "clv: the order event (default Order Completed)")
	cf.String("revenue", "", "clv: dotted path of an order's value (default properties.revenue)")
	cf.String("calibration-end", "", "clv: learn from purchases up to this day (YYYY-MM-DD) only")
	cf.Int("horizon-days", 0, "clv: the lifetime value's horizon in days (default 365)")
	cf.Float64("discount-rate", 0, "clv: yearly discount rate (default 0.1)")
	cf.String("label", "", "classifier: CEL condition true for the positive examples")
	cf.StringSlice("feature", nil, "classifier: a profile field to learn from (traits.x, computed.x); repeat; default every trait and computed trait")
	cf.String("retrain", "", "train again this long after the last training (24h, 7d)")

	train := apiCommand("train MODEL", "Train a model (by name or id); --wait follows it to the end", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			id, err := modelID(cmd.Context(), c, args[0])
			if err != nil {
				return nil, nil, err
			}
			var m map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/models/"+url.PathEscape(id)+"/train", nil, &m); err != nil {
				return nil, nil, err
			}
			if wait, _ := cmd.Flags().GetBool("wait"); wait {
				bar := &progressBar{w: cmd.ErrOrStderr(), on: isTerminal(cmd.ErrOrStderr()), start: time.Now()}
				for str(m["status"]) == "training" {
					select {
					case <-cmd.Context().Done():
						return nil, nil, cmd.Context().Err()
					case <-time.After(250 * time.Millisecond):
					}
					// The phase and, where it has one, its count: a bar while the profiles are
					// built or read.
					what := fmt.Sprintf("training %s: %s", args[0], time.Since(bar.start).Round(time.Second))
					done := int64(0)
					bar.total = 0
					if p := obj(m["progress"]); p != nil {
						what = fmt.Sprintf("training %s: %s", args[0], str(p["phase"]))
						if total, _ := p["total"].(float64); total > 0 {
							d, _ := p["done"].(float64)
							bar.total, done = int64(total), int64(d)
							what += fmt.Sprintf(", %d of %d profiles", done, bar.total)
						}
					}
					bar.draw(done, what, "")
					if err := c.do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(id), nil, &m); err != nil {
						return nil, nil, err
					}
				}
				bar.finish()
				if str(m["status"]) == "failed" {
					return nil, nil, fmt.Errorf("training %s failed: %s", args[0], str(m["message"]))
				}
			}
			return m, func(w io.Writer) error {
				return table(w, "ID\tNAME\tSTATUS\tVERSION\tMETRIC", [][]string{{str(m["id"]), str(m["name"]), str(m["status"]), str(m["version"]), headline(m)}})
			}, nil
		})
	train.Flags().Bool("wait", false, "wait until the training ends; exit 1 when it failed")

	show := apiCommand("show MODEL", "Show a model's definition, parameters and card", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			id, err := modelID(cmd.Context(), c, args[0])
			if err != nil {
				return nil, nil, err
			}
			var m map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(id), nil, &m); err != nil {
				return nil, nil, err
			}
			return m, func(w io.Writer) error {
				rows := [][]string{{"name", str(m["name"])}, {"kind", str(m["kind"])}, {"status", str(m["status"])}, {"message", str(m["message"])},
					{"version", str(m["version"])}, {"trained_at", str(m["trained_at"])}}
				for _, section := range []string{"params", "card"} {
					flatten(section, m[section], &rows)
				}
				return table(w, "FIELD\tVALUE", rows)
			}, nil
		})

	score := apiCommand("score PROFILE", "Show a profile's predictions (PROFILE is kind:value, e.g. user_id:42)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var p map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/profiles/"+url.PathEscape(args[0]), nil, &p); err != nil {
				return nil, nil, err
			}
			preds := obj(p["predictions"])
			return preds, func(w io.Writer) error {
				var rows [][]string
				flatten("predictions", preds, &rows)
				return table(w, "SCORE\tVALUE", rows)
			}, nil
		})

	del := apiCommand("delete MODEL", "Delete a model and its versions", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			id, err := modelID(cmd.Context(), c, args[0])
			if err != nil {
				return nil, nil, err
			}
			if err := c.do(cmd.Context(), "DELETE", "/v1/models/"+url.PathEscape(id), nil, nil); err != nil {
				return nil, nil, err
			}
			return map[string]any{"deleted": id}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "deleted %s\n", args[0])
				return err
			}, nil
		})
	cmd.AddCommand(ls, create, train, show, score, del)
	return cmd
}

// modelID finds a model by name or id.
func modelID(ctx context.Context, c *apiClient, ref string) (string, error) {
	if strings.HasPrefix(ref, "mdl_") {
		return ref, nil
	}
	var out map[string]any
	if err := c.do(ctx, "GET", "/v1/models", nil, &out); err != nil {
		return "", err
	}
	for _, m := range list(out["models"]) {
		if str(obj(m)["name"]) == ref {
			return str(obj(m)["id"]), nil
		}
	}
	return "", usageError{fmt.Errorf("no model named %q (kenner predict list shows them)", ref)}
}

// headline is a model's one-line summary: a classifier's holdout AUC, a clv model's customers.
func headline(m map[string]any) string {
	card := obj(m["card"])
	switch {
	case card == nil:
		return ""
	case card["auc"] != nil:
		return fmt.Sprintf("AUC %.3f", card["auc"])
	case card["customers"] != nil:
		return fmt.Sprintf("%v customers, %v repeat", card["customers"], card["repeat_buyers"])
	}
	return ""
}

// flatten lists a JSON value's leaves as dotted paths, lists of objects shortened.
func flatten(prefix string, v any, rows *[][]string) {
	predict.Leaves(prefix, v, func(name string, leaf any) {
		switch x := leaf.(type) {
		case []any:
			if len(x) > 12 {
				*rows = append(*rows, []string{name, fmt.Sprintf("[%d items; --json shows them]", len(x))})
				return
			}
			for i, e := range x {
				flatten(fmt.Sprintf("%s[%d]", name, i), e, rows)
			}
		case nil:
		default:
			*rows = append(*rows, []string{name, str(x)})
		}
	})
}
