package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/standardize"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/cobra"
)

// config is every setting of kenner, read from (highest first) flags, KENNER_* environment
// variables, and the YAML file named by --config. Keys use dashes: the flag --nats-listen is
// KENNER_NATS_LISTEN in the environment and nats-listen in the file.
type config struct {
	Data              string
	Workspace         string // the workspace admin commands act on without --url
	Addr              string
	Store             string
	NATS              string
	NATSListen        string
	NATSStream        string
	NATSReplicas      int
	Partitions        int
	Sync              string
	DefaultRegion     string
	RateLimit         float64
	TokenRateLimit    float64
	PII               *privacy.PII
	Consent           *privacy.ConsentPolicy
	Standardize       *standardize.Rules
	Retention         []privacy.RetentionRule
	RetentionInterval time.Duration
	TrustProxy        bool
	LogLevel          string
	LogFormat         string
	SecretFile        string
	EncryptionKeyFile string
	DebugAddr         string
	MemoryLimit       int64
	URL               string
	Token             string

	ExternalIDs         []string
	IdentityPriority    []string
	IdentityLimits      map[string]int
	IdentityBlocked     map[string][]string
	TraitSourcePriority []string
	SegmentSweep        time.Duration
	LeaseTTL            time.Duration // scale-out: how long a node's partition leases live unrenewed
	SegmentCostLimit    uint64
	DeliveryAttempts    int
	DeliveryBackoffMax  time.Duration
	DeliveryRetention   time.Duration
	ChangesMaxAge       time.Duration

	AdminAddr          string
	DestinationAllow   egress.Policy
	ExportRoot         string
	GeoIPDB            string
	NATSDestinationURL string
	MaxConnsPerClient  int
	MaxFuture          time.Duration
	SuppressKinds      []string
	SharedLimit        int
	Journeys           journeyConfig
}

func loadConfig(cmd *cobra.Command) (config, error) {
	k := koanf.New(".")
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("KENNER_CONFIG")
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return config{}, usageError{fmt.Errorf("config file %s: %w", path, err)}
		}
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix: "KENNER_",
		TransformFunc: func(key, value string) (string, any) {
			return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(key, "KENNER_")), "_", "-"), value
		},
	}), nil); err != nil {
		return config{}, err
	}
	if err := k.Load(posflag.Provider(cmd.Flags(), ".", k), nil); err != nil {
		return config{}, err
	}
	c := config{
		Data: k.String("data"), Workspace: k.String("workspace"), Addr: k.String("addr"), Store: k.String("store"), NATS: k.String("nats"),
		NATSListen: k.String("nats-listen"), NATSStream: k.String("nats-stream"), NATSReplicas: k.Int("nats-replicas"), Partitions: k.Int("partitions"), Sync: k.String("sync"),
		DefaultRegion: k.String("default-region"), RateLimit: k.Float64("rate-limit"), TrustProxy: k.Bool("trust-proxy"),
		LogLevel: k.String("log-level"), LogFormat: k.String("log-format"), SecretFile: k.String("secret-file"), EncryptionKeyFile: k.String("encryption-key-file"),
		DebugAddr: k.String("debug-addr"), MemoryLimit: k.Int64("memory-limit"), URL: k.String("url"), Token: k.String("token"),
	}
	c.TokenRateLimit = k.Float64("token-rate-limit")
	if v := k.String("max-future"); v != "" {
		var err error
		if c.MaxFuture, err = time.ParseDuration(v); err != nil || c.MaxFuture < time.Minute {
			return config{}, usageError{fmt.Errorf("max-future: want a duration of at least 1m, like 1h, not %q", v)}
		}
	}
	c.AdminAddr = k.String("admin-addr")
	c.SuppressKinds = k.Strings("suppress-kinds")
	c.SharedLimit = k.Int("identity-shared-limit")
	var err error
	if c.Journeys, err = loadJourneyConfig(k); err != nil {
		return config{}, err
	}
	if c.SharedLimit < 0 {
		return config{}, usageError{fmt.Errorf("identity-shared-limit: want a number of people, 0 for no limit")}
	}
	c.ExportRoot = k.String("export-root")
	c.GeoIPDB = k.String("geoip-db")
	c.NATSDestinationURL = k.String("nats-destination-url")
	c.MaxConnsPerClient = k.Int("max-conns-per-client")
	allow, err := egress.New(k.Strings("destination-allow"))
	if err != nil {
		return config{}, usageError{fmt.Errorf("destination-allow: %s", kenner.ErrorMessage(err))}
	}
	c.DestinationAllow = allow
	c.PII = privacy.NewPII(k.Strings("pii-traits"))
	purposes, err := stringMap(k, "consent-purposes", "purpose=drop or purpose=strip")
	if err != nil {
		return config{}, err
	}
	var granted bool
	switch d := k.String("consent-default"); d {
	case "", "granted":
		granted = true
	case "denied":
	default:
		return config{}, usageError{fmt.Errorf("consent-default: want granted or denied, not %q", d)}
	}
	if c.Consent, err = privacy.NewConsentPolicy(purposes, granted); err != nil {
		return config{}, usageError{fmt.Errorf("consent-purposes: %s", kenner.ErrorMessage(err))}
	}
	retention, err := stringMap(k, "retention", "class=duration, e.g. events=760d")
	if err != nil {
		return config{}, err
	}
	if c.Retention, err = privacy.ParseRetention(retention); err != nil {
		return config{}, usageError{fmt.Errorf("retention: %s", kenner.ErrorMessage(err))}
	}
	if v := k.String("retention-interval"); v != "" {
		if c.RetentionInterval, err = time.ParseDuration(v); err != nil || c.RetentionInterval < time.Minute {
			return config{}, usageError{fmt.Errorf("retention-interval: want a duration of at least 1m, like 1h, not %q", v)}
		}
	}
	if c.RateLimit < 0 || c.TokenRateLimit < 0 {
		return config{}, usageError{fmt.Errorf("rate-limit and token-rate-limit: want a number of per second, 0 for no limit")}
	}
	c.ExternalIDs = k.Strings("external-ids")
	c.IdentityPriority = k.Strings("identity-priority")
	c.TraitSourcePriority = k.Strings("trait-source-priority")
	c.SegmentCostLimit = uint64(k.Int64("segment-cost-limit"))
	c.LeaseTTL = 6 * time.Second
	if v := k.String("lease-ttl"); v != "" {
		if c.LeaseTTL, err = time.ParseDuration(v); err != nil || c.LeaseTTL < time.Second || c.LeaseTTL > time.Minute {
			return config{}, usageError{fmt.Errorf("lease-ttl: want a duration from 1s to 1m, like 6s, not %q", v)}
		}
	}
	if v := k.String("segment-sweep"); v != "" {
		if c.SegmentSweep, err = time.ParseDuration(v); err != nil || c.SegmentSweep < time.Second {
			return config{}, usageError{fmt.Errorf("segment-sweep: want a duration of at least 1s, like 1m, not %q", v)}
		}
	}
	c.DeliveryAttempts = k.Int("delivery-attempts")
	if c.DeliveryAttempts < 0 {
		return config{}, usageError{fmt.Errorf("delivery-attempts: want a positive number, not %d", c.DeliveryAttempts)}
	}
	if v := k.String("delivery-backoff-max"); v != "" {
		if c.DeliveryBackoffMax, err = time.ParseDuration(v); err != nil || c.DeliveryBackoffMax < time.Second {
			return config{}, usageError{fmt.Errorf("delivery-backoff-max: want a duration of at least 1s, like 10m, not %q", v)}
		}
	}
	if v := k.String("delivery-retention"); v != "" {
		d, err := kenner.ParseDuration(v)
		if err != nil || d < time.Hour {
			return config{}, usageError{fmt.Errorf("delivery-retention: want a duration of at least 1h, like 168h or 30d, not %q", v)}
		}
		c.DeliveryRetention = d
	}
	if v := k.String("changes-max-age"); v != "" {
		d, err := kenner.ParseDuration(v)
		if err != nil || d < time.Hour {
			return config{}, usageError{fmt.Errorf("changes-max-age: want a duration of at least 1h, like 168h or 7d, not %q", v)}
		}
		c.ChangesMaxAge = d
	}
	if c.IdentityLimits, err = intMap(k, "identity-limits"); err != nil {
		return config{}, err
	}
	if c.IdentityBlocked, err = listMap(k, "identity-blocked"); err != nil {
		return config{}, err
	}
	for _, kind := range c.ExternalIDs {
		if kind == "" || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" || slices.Contains([]string{"id", "user_id", "anonymous_id", "email", "phone"}, kind) {
			return config{}, usageError{fmt.Errorf("external-ids: %q is not a valid kind (lowercase letters, digits and _, not a built-in kind)", kind)}
		}
	}
	if c.Workspace == "" {
		c.Workspace = bootstrapWorkspace
	}
	if c.Data == "" {
		c.Data = "./kenner-data"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.NATSReplicas == 0 {
		c.NATSReplicas = 1
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 || (c.NATSReplicas > 1 && c.NATS == "") {
		return config{}, usageError{fmt.Errorf("nats-replicas: from 1 to 5, and above 1 only with --nats (a NATS cluster)")}
	}
	if c.NATSStream == "" {
		c.NATSStream = "events"
	}
	if strings.Trim(c.NATSStream, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return config{}, usageError{fmt.Errorf("nats-stream may hold only letters, digits, - and _, not %q", c.NATSStream)}
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		return config{}, usageError{fmt.Errorf("partitions must be from 1 to 1024")}
	}
	c.DefaultRegion = strings.ToUpper(strings.TrimSpace(c.DefaultRegion))
	if c.DefaultRegion != "" && (len(c.DefaultRegion) != 2 || strings.Trim(c.DefaultRegion, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		return config{}, usageError{fmt.Errorf("default-region must be a two-letter country code (ISO 3166 alpha-2), not %q", c.DefaultRegion)}
	}
	if !k.Bool("no-standardize") {
		fields, err := stringMap(k, "standardize", "field=kind, e.g. mobile=phone")
		if err != nil {
			return config{}, err
		}
		if c.Standardize, err = standardize.NewRules(fields, c.DefaultRegion); err != nil {
			return config{}, usageError{err}
		}
	}
	if c.Sync == "" {
		c.Sync = "1s"
	}
	if _, _, err := c.syncPolicy(); err != nil {
		return config{}, err
	}
	return c, nil
}

// syncPolicy reads --sync: "always" fsyncs every append, a duration fsyncs that often.
func (c config) syncPolicy() (always bool, every time.Duration, err error) {
	if c.Sync == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(c.Sync)
	if err != nil || d <= 0 {
		return false, 0, usageError{fmt.Errorf("sync must be \"always\" or a duration such as 1s, not %q", c.Sync)}
	}
	return false, d, nil
}

// addGlobalFlags defines the flags every command shares.
func addGlobalFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String("config", "", "YAML configuration file (also KENNER_CONFIG)")
	f.String("data", "./kenner-data", "data directory of the embedded store and log")
	f.String("store", "", "store URL: empty for the embedded SQLite store in --data, or postgres://...")
	f.String("encryption-key-file", "", "file with the 32-byte key (base64 or hex) that encrypts the store's data key; KENNER_ENCRYPTION_KEY gives it directly (default: derived from the instance secret)")
	f.String("secret-file", "", "file with the instance secret that keys credential hashes (default DATA/secret.key)")
	f.String("log-level", "info", "log level: debug, info, warn, error")
	f.String("log-format", "text", "log format: text or json")
	f.String("url", "", "URL of a running kenner server for admin commands (also KENNER_URL)")
	f.String("token", "", "admin API token for --url (also KENNER_TOKEN)")
	f.String("workspace", bootstrapWorkspace, "workspace that admin commands act on without --url (with --url, the token's)")
}

// intMap reads a map of integers given as a YAML mapping or as "k=v,k=v" (flag, environment).
func intMap(k *koanf.Koanf, key string) (map[string]int, error) {
	out := map[string]int{}
	if m := k.StringMap(key); len(m) > 0 {
		for name, v := range m {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, usageError{fmt.Errorf("%s: %s must be a whole number, not %q", key, name, v)}
			}
			out[name] = n
		}
		return out, nil
	}
	for _, pair := range k.Strings(key) {
		name, v, ok := strings.Cut(pair, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, usageError{fmt.Errorf("%s: want kind=number, not %q", key, pair)}
		}
		out[strings.TrimSpace(name)] = n
	}
	return out, nil
}

// stringMap reads a map of strings given as a YAML mapping or as "k=v,k=v" (flag, environment).
func stringMap(k *koanf.Koanf, key, want string) (map[string]string, error) {
	if m := k.StringMap(key); len(m) > 0 {
		return m, nil
	}
	out := map[string]string{}
	for _, pair := range k.Strings(key) {
		name, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("%s: want %s, not %q", key, want, pair)}
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(v)
	}
	return out, nil
}

// listMap reads a map of string lists given as a YAML mapping or as "k=v,k=v" (flag,
// environment), where a key may repeat.
func listMap(k *koanf.Koanf, key string) (map[string][]string, error) {
	out := map[string][]string{}
	if m := k.StringsMap(key); len(m) > 0 {
		return m, nil
	}
	for _, pair := range k.Strings(key) {
		name, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("%s: want kind=value, not %q", key, pair)}
		}
		out[strings.TrimSpace(name)] = append(out[strings.TrimSpace(name)], v)
	}
	return out, nil
}

// addIdentityFlags defines the flags of identity resolution and segments, which serve and
// replay share (a replay must resolve with the rules the server will use), with the flags of
// how events are prepared (addEventFlags).
func addIdentityFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSlice("external-ids", nil, "extra identifier kinds read from traits and context.externalIds (e.g. crm_id,shopify_id)")
	f.StringSlice("identity-priority", nil, "identifier kinds from most to least trusted (default user_id,email,phone,anonymous_id)")
	f.StringSlice("identity-limits", nil, "most identifiers of a kind per profile, kind=N (default user_id=1,email=5,phone=5,anonymous_id=100)")
	f.StringSlice("identity-blocked", nil, "extra values that identify no one, kind=value (kind * for every kind)")
	f.Int("identity-shared-limit", process.DefaultSharedLimit, "people (profiles with their own user ids) that may present one email or phone before it stops identifying anyone and is listed at /v1/identity/blocked (0: no limit)")
	f.StringSlice("trait-source-priority", nil, "source names whose trait values win over newer values from other sources, most trusted first")
	f.Int64("segment-cost-limit", 100000, "most CEL cost units one segment condition may spend on one profile")
	addEventFlags(cmd)
}

// eventFlags are the flags of how events are prepared before the log (standardization,
// consent stripping, clock checks): serve, import and sync use them where they prepare
// events; an import through --url is prepared by the server, with the server's.
var eventFlags = []string{"default-region", "standardize", "no-standardize", "pii-traits", "consent-purposes", "consent-default", "max-future"}

// addEventFlags defines eventFlags.
func addEventFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("default-region", "", "country (ISO 3166 alpha-2) of phone numbers without a country code")
	f.StringSlice("standardize", nil, "standard form of more trait and property names, field=kind with kind one of email, phone, name, country, date, currency, amount, boolean, none (none turns a default off)")
	f.Bool("no-standardize", false, "keep every trait and property as sent (by default emails, phones, names, countries, dates, currencies and amounts are standardized)")
	f.StringSlice("pii-traits", privacy.DefaultPII, "trait and field names holding personal data: masked for the analyst and viewer roles, stripped by the consent policy (names containing one of four letters or more match too)")
	f.StringSlice("consent-purposes", nil, "consent policy, purpose=drop|strip: what becomes of the events of people who did not consent to the purpose (e.g. analytics=strip,advertising=drop)")
	f.String("consent-default", "granted", "the answer assumed for a person who never answered for a purpose: granted (opt-out) or denied (opt-in)")
	f.String("max-future", "1h", "how far past its receipt an event's time may lie; a later time is clamped to the receipt and kept in context.clampedTimestamp")
}

// refuseEventFlagsRemote refuses eventFlags set with --url: the server prepares the events,
// with its own settings, and silently ignoring a flag the user gave would mislead.
func refuseEventFlagsRemote(cmd *cobra.Command) error {
	for _, name := range eventFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return usageError{fmt.Errorf("--%s does not apply with --url: the server prepares the events with its own settings (set it on kenner serve), or import with --data", name)}
		}
	}
	return nil
}
