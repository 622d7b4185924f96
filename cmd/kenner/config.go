package main

import (
	"fmt"
	"os"
	"strings"
	"time"

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
	Data          string
	Addr          string
	Store         string
	NATS          string
	NATSListen    string
	NATSStream    string
	Partitions    int
	Sync          string
	DefaultRegion string
	RateLimit     float64
	TrustProxy    bool
	LogLevel      string
	LogFormat     string
	SecretFile    string
	DebugAddr     string
	MemoryLimit   int64
	URL           string
	Token         string
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
		Data: k.String("data"), Addr: k.String("addr"), Store: k.String("store"), NATS: k.String("nats"),
		NATSListen: k.String("nats-listen"), NATSStream: k.String("nats-stream"), Partitions: k.Int("partitions"), Sync: k.String("sync"),
		DefaultRegion: k.String("default-region"), RateLimit: k.Float64("rate-limit"), TrustProxy: k.Bool("trust-proxy"),
		LogLevel: k.String("log-level"), LogFormat: k.String("log-format"), SecretFile: k.String("secret-file"),
		DebugAddr: k.String("debug-addr"), MemoryLimit: k.Int64("memory-limit"), URL: k.String("url"), Token: k.String("token"),
	}
	if c.Data == "" {
		c.Data = "./kenner-data"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
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
	f.String("secret-file", "", "file with the instance secret that keys credential hashes (default DATA/secret.key)")
	f.String("log-level", "info", "log level: debug, info, warn, error")
	f.String("log-format", "text", "log format: text or json")
	f.String("url", "", "URL of a running kenner server for admin commands (also KENNER_URL)")
	f.String("token", "", "admin API token for --url (also KENNER_TOKEN)")
}
