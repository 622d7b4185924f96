package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/builtin"
	"github.com/kenner-cdp/kenner/activation/subject"
	"github.com/kenner-cdp/kenner/analytics/projection"
	"github.com/kenner-cdp/kenner/cluster"
	"github.com/kenner-cdp/kenner/console"
	"github.com/kenner-cdp/kenner/geoip"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/journey"
	"github.com/kenner-cdp/kenner/matchrun"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/server"
	"github.com/kenner-cdp/kenner/syncrun"
	"github.com/kenner-cdp/kenner/tag"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/kenner-cdp/kenner/web"
	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Kenner server (tracking API, processor, admin API)",
		Long: `Run the Kenner server. With no --store and --nats it is self-contained: an embedded SQLite
store and an embedded NATS JetStream log, both in --data. On first start it creates a workspace,
a source named "default" and an owner token, and writes them to DATA/initial-credentials.json.

SIGTERM or SIGINT stops accepting requests, finishes those in flight, lets the processor finish
its batch, then closes the store and the log, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, newLogger(cfg, cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:8080", "HTTP listen address")
	f.String("admin-addr", "", "serve the admin API, metrics and OpenAPI on this HOST:PORT only; --addr then serves just the tracking API, webhook sources and health checks")
	f.StringSlice("destination-allow", nil, "address ranges destinations may reach although internal (CIDR or IP, e.g. 10.1.0.0/16,127.0.0.1); loopback, private, link-local and metadata addresses are refused otherwise")
	f.String("export-root", "", "directory under which file-export destinations may write (default DATA/exports)")
	f.String("nats-destination-url", "", "NATS URL (with a user restricted as SECURITY.md says) that NATS destinations without their own url publish on, with an external --nats")
	f.StringSlice("suppress-kinds", privacy.DefaultSuppressKinds, "identifier kinds an erasure puts on the suppression list (add phone or anonymous_id only where they name one person)")
	f.Int("max-conns-per-client", 256, "open connections one client address may hold on the public listener (0: no limit)")
	addLogFlags(cmd, serveMemoryLimit)
	addIdentityFlags(cmd)
	f.Float64("rate-limit", 0, "events per second one source may send (0: no limit)")
	f.Float64("token-rate-limit", 0, "admin API requests per second one token may make, with bursts of 10 s worth (0: no limit)")
	f.Bool("trust-proxy", false, "take client IPs from X-Forwarded-For")
	f.String("geoip-db", "", "a MaxMind-format database (GeoLite2-City.mmdb, or a country one): adds context.location to events from their IP")
	f.String("segment-sweep", "1m", "how often windowed segments are re-evaluated for profiles whose events left a window")
	f.String("lease-ttl", "6s", "with --nats: how long a node's leases on partitions outlive its last renewal (a dead node's partitions move after about this long)")
	f.Int("delivery-attempts", 10, "attempts per delivery before it goes to the dead letters (a destination's max_attempts overrides)")
	f.String("delivery-backoff-max", "10m", "longest wait between two attempts of a delivery (waits grow exponentially from 1s, with jitter)")
	f.String("delivery-retention", "7d", "how long delivered deliveries stay in the delivery log (pending ones and dead letters stay)")
	f.String("changes-max-age", "7d", "how long the changes stream (profile updates, segment entries and exits, deletions) keeps a change")
	f.String("retention-interval", "1h", "how often the retention job runs")
	f.String("smtp-url", "", "mail server of journeys' emails: smtp://[user:pass@]host:port (STARTTLS; add ?security=none for a relay on a trusted network) or smtps://host:465")
	f.String("email-from", "", "sender of journeys' emails, like \"Shop <news@shop.example>\" (with --smtp-url)")
	f.String("public-url", "", "where people reach this server (https://cdp.example.com): journeys' emails carry one-click unsubscribe links under it")
	f.Int("email-cap-day", 0, "most journey emails one person gets per calendar day of their time zone, in journeys without their own frequency_cap (0: no cap)")
	f.Int("email-cap-week", 0, "most journey emails one person gets per ISO week of their time zone, in journeys without their own frequency_cap (0: no cap)")
	f.String("journey-timezone", "UTC", "time zone of people without a timezone trait, for journeys that name none (IANA name, like Europe/Amsterdam)")
	f.String("debug-addr", "", "serve Go's pprof profiles at HOST:PORT/debug/pprof/ (off by default; never expose it)")
	return cmd
}

// serve runs the server until ctx is done. Shutdown order: HTTP (no new events, in-flight
// appends finish) → processor (current batch commits) → store → log.
func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
	app, log, closeAll, err := openExclusive(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()

	workspaces, err := app.store.Workspaces(ctx)
	if err != nil {
		return err
	}
	// Imports a stopped process left running fail visibly, saying how far they got.
	for _, ws := range workspaces {
		if n, err := importer.FailInterrupted(ctx, app.store, ws.ID, time.Now()); err != nil {
			logger.Warn("marking interrupted imports", "workspace", ws.ID, "err", err)
		} else if n > 0 {
			logger.Warn("imports interrupted by a stop were marked failed; run them again", "workspace", ws.ID, "imports", n)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sealed := app.sealed(log, reg)
	plans := trackingplan.NewEnforcer(app.store, logger)
	icfg := ingest.Config{
		RateLimit: cfg.RateLimit, TrustProxy: cfg.TrustProxy, Consent: cfg.Consent, PII: cfg.PII,
		Standardize: cfg.Standardize, Plans: plans, MaxFuture: cfg.MaxFuture,
	}
	if cfg.GeoIPDB != "" {
		geo, err := geoip.Open(cfg.GeoIPDB)
		if err != nil {
			return usageError{fmt.Errorf("--geoip-db: %v", err)}
		}
		defer geo.Close()
		icfg.GeoIP = geo
		logger.Info("geoip database", "path", cfg.GeoIPDB, "type", geo.Type())
	}
	tracking := ingest.New(sealed, app.creds, ingest.NewMetrics(reg), logger, icfg)
	subjects, closeSubjects, err := destinationSubjects(cfg, log)
	if err != nil {
		return err
	}
	defer closeSubjects()
	exportRoot := cfg.ExportRoot
	if exportRoot == "" {
		exportRoot = filepath.Join(cfg.Data, "exports")
	}
	// Deliveries show the person's predictions, from the processor built below (it exists
	// before activation runs).
	var proc *process.Processor
	var journeyMailer journey.Mailer
	if cfg.Journeys.SMTP != nil {
		journeyMailer = cfg.Journeys.SMTP
	}
	var act *activation.Service
	runner := journey.New(app.store, sealed, procEngines{&proc}, tracking, journey.Config{
		Timezone: cfg.Journeys.Timezone, Processor: process.ConsumerName, Mailer: journeyMailer, From: cfg.Journeys.From,
		PublicURL: cfg.Journeys.PublicURL, Sign: app.creds.Hasher().Hash, Cap: cfg.Journeys.Cap, Registerer: reg,
		Scores: func(ctx context.Context, ws string, p *kenner.Profile) map[string]any { return proc.Scores(ctx, ws, p) },
		Wake:   func(id string) { act.WakeDestination(id) },
	}, logger)
	senders := builtin.Senders(app.store, builtin.Options{Egress: cfg.DestinationAllow, ExportRoot: exportRoot, Subjects: subjects, Ingest: tracking})
	var internal []kenner.Destination
	if journeyMailer != nil {
		senders[journey.EmailType] = runner.EmailSenders()
		internal = append(internal, journey.EmailQueue())
	}
	act = activation.New(app.store, sealed, activation.Config{
		Senders: senders, Internal: internal,
		MaxAttempts: cfg.DeliveryAttempts, BackoffMax: cfg.DeliveryBackoffMax, Retention: cfg.DeliveryRetention,
		Consent: cfg.Consent, PII: cfg.PII,
		Scores: func(ctx context.Context, ws string, p *kenner.Profile) map[string]any { return proc.Scores(ctx, ws, p) },
	}, reg, logger)
	changes, err := log.Changes(ctx, changesOptions(cfg))
	if err != nil {
		return err
	}
	relay := process.NewRelay(app.store, changes, reg, logger)
	pcfg := processConfig(cfg, app.store)
	pcfg.Committed = func() { act.Wake(); relay.Wake() }
	pcfg.Suppressed = app.suppress.Suppressed
	// Analytics keeps its columns from what the processor applies (and, at start, from the
	// log's history): no second decryption of every event.
	clustered := cfg.NATS != ""
	pjcfg := projection.Config{Log: sealed, Identities: app.store, Suppressed: app.suppress.Suppressed,
		Retention: eventRetention(cfg.Retention), Logger: logger}
	if clustered {
		// Other nodes process the partitions this one does not hold: analytics reads those
		// from the log.
		pjcfg.Held = func(part int) (uint64, bool) { return proc.Resumed(part) }
	}
	insights := projection.New(pjcfg)
	pcfg.Applied = insights.Feed
	proc = process.New(sealed, app.store, pcfg, reg, logger)
	builder := process.NewBuilder(proc, app.store, cfg.SegmentSweep, logger)
	// Saving a segment or publishing a journey on any node wakes the builder and the journey
	// runner on the node that runs them (the leader, in a cluster).
	var signalConn *natsgo.Conn
	if clustered {
		signalConn = log.Conn()
	}
	signals, err := cluster.NewSignals(signalConn, "kenner-signals."+cfg.NATSStream)
	if err != nil {
		return fmt.Errorf("signals: %w", err)
	}
	defer signals.Close()
	signals.On("builder", builder.Wake)
	signals.On("journeys", runner.Changed)
	wakeBuilder := cluster.Waker{Signals: signals, Name: "builder"}
	trainer := process.NewTrainer(proc, app.store, wakeBuilder.Wake, logger)
	decider := tag.NewDecider(app.store, proc, app.store, cfg.PII)
	matcher := matchrun.New(matchrun.Config{Store: app.store, Ingest: tracking, Rules: pcfg.Rules, ExternalIDs: pcfg.ExternalIDs, Caught: proc.Caught, Log: logger})
	for _, ws := range workspaces {
		if err := matcher.Recover(ctx, ws.ID); err != nil {
			return fmt.Errorf("match runs: %w", err)
		}
	}
	eraser := privacy.NewEraser(app.store, app.keys, app.suppress, cfg.SuppressKinds, logger)
	host, _ := os.Hostname()
	syncs := syncrun.New(syncrun.Config{Store: app.store, Ingest: tracking, Eraser: eraser, Normalize: pcfg.Normalizer.Normalize,
		Egress: cfg.DestinationAllow, Node: host, Log: logger})
	// The embedded store has one server: a run it left running stopped with it. Servers that
	// share PostgreSQL let a dead one's run go stale instead.
	if !strings.HasPrefix(cfg.Store, "postgres") {
		for _, ws := range workspaces {
			if err := syncs.Recover(ctx, ws.ID); err != nil {
				return fmt.Errorf("sync runs: %w", err)
			}
		}
	}
	var leaderJobs func(ctx context.Context) // set below, once the jobs exist
	var node *cluster.Node
	var status server.Cluster = cluster.Alone{Node: host, Addr: cfg.Addr, Partitions: log.Partitions(), Since: time.Now().UTC()}
	if clustered {
		kv, err := log.Leases(ctx, cfg.LeaseTTL)
		if err != nil {
			return err
		}
		node = cluster.New(cluster.Config{KV: kv, Node: host + "-" + rand.Text()[:6], Addr: cfg.Addr, Partitions: log.Partitions(),
			TTL: cfg.LeaseTTL, Work: proc.RunPartition, Logger: logger,
			Leader: func(ctx context.Context) { leaderJobs(ctx) }})
		status = node
	}
	registerClusterMetrics(reg, status)
	api := server.New(server.Deps{
		Decider: decider,
		Tag:     tag.New(app.creds, decider, pcfg.Normalizer, logger, tag.Config{Version: version(), TrustProxy: cfg.TrustProxy}),
		Store:   app.store, Log: sealed, Creds: app.creds, Ingest: tracking, Registry: reg, Logger: logger,
		Consumer: process.ConsumerName, Splitter: proc, Normalizer: pcfg.Normalizer, ExternalIDs: pcfg.ExternalIDs,
		Rules: pcfg.Rules, SharedLimit: pcfg.SharedLimit,
		Audience: proc, Builder: wakeBuilder, Activation: act, Plans: plans, Progress: proc, Trainer: trainer, Journeys: journeySignals{runner, signals}, Matcher: matcher, Analytics: insights,
		Eraser:       eraser,
		Syncs:        syncs,
		Suppressions: app.suppress,
		Guard:        proc,
		Users:        app.users,
		PII:          cfg.PII,
		TokenLimiter: web.NewLimiter(cfg.TokenRateLimit, 0, "token", "requests", nil),
		Forget:       []server.Forgetter{app.keys, insights, proc},
		Cluster:      status,
	})

	cons, err := console.New(api, app.users, logger, console.Options{TrustProxy: cfg.TrustProxy})
	if err != nil {
		return err
	}
	api.Mount("/console/", cons)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connsRefused := prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_http_connections_refused_total",
		Help: "Connections closed at once because their client address held --max-conns-per-client already."})
	reg.MustRegister(connsRefused)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kenner_log_records_skipped_total",
		Help: "Log records readers could not decode (not written by Kenner, or damaged) and skipped; they stay in the stream."},
		func() float64 { return float64(log.SkippedRecords()) }))
	ln = web.LimitPerClient(ln, cfg.MaxConnsPerClient, connsRefused.Inc)
	var publicHandler http.Handler = api
	var adminSrv *http.Server
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on the admin address: %w", err)
		}
		publicHandler = api.Public()
		adminSrv = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	}
	srv := &http.Server{Handler: publicHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}

	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, logger)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	// The jobs that must not run twice at once: on the one node, or on the cluster's leader.
	retention := privacy.NewRetention(app.store, cfg.Retention, reg, logger)
	leaderJobs = func(ctx context.Context) {
		var jobs sync.WaitGroup
		jobs.Go(func() { builder.Run(ctx) })
		jobs.Go(func() { runner.Run(ctx) })
		jobs.Go(func() { retention.Run(ctx, cfg.RetentionInterval) })
		trainer.Schedule(ctx, true)
		jobs.Wait()
		trainer.Schedule(ctx, false)
	}
	if node != nil {
		trainer.Schedule(procCtx, false)
		wg.Go(func() { node.Run(procCtx) })
	} else {
		wg.Go(func() { proc.Run(procCtx) })
		wg.Go(func() { leaderJobs(procCtx) })
	}
	wg.Go(func() { trainer.Run(procCtx) })
	wg.Go(func() { act.Run(procCtx) })
	wg.Go(func() { relay.Run(procCtx) })
	wg.Go(func() {
		if err := insights.Run(procCtx); err != nil && procCtx.Err() == nil {
			logger.Error("analytics stopped", "err", err)
		}
	})
	wg.Go(func() { app.suppress.Run(procCtx, 5*time.Second) })
	wg.Go(func() {
		syncs.Start(procCtx)
		syncs.Wait()
	})
	wg.Go(func() { cons.WarmDashboards(procCtx) })
	wg.Go(func() { plans.Run(procCtx, time.Second) })

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if adminSrv != nil {
		go func() { serveErr <- adminSrv.Serve(adminLn) }()
		logger.Info("admin API listening", "addr", "http://"+adminLn.Addr().String())
	}
	logger.Info("kenner listening", "addr", "http://"+ln.Addr().String(), "data", cfg.Data, "log", log.String())

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-serveErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if shutErr := srv.Shutdown(shutdownCtx); shutErr != nil {
		logger.Error("http shutdown", "err", shutErr)
	}
	if adminSrv != nil {
		if shutErr := adminSrv.Shutdown(shutdownCtx); shutErr != nil {
			logger.Error("admin http shutdown", "err", shutErr)
		}
	}
	stopProc()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// destinationSubjects is what NATS destinations without a URL publish on: the embedded
// server's restricted user, or the user of --nats-destination-url on an external server
// (without it, they need their own url).
func destinationSubjects(cfg config, log *nats.Log) (subject.Options, func(), error) {
	opts := subject.Options{Publish: log.DestinationConn(), Lookup: log.Conn()}
	if cfg.NATSDestinationURL == "" {
		return opts, func() {}, nil
	}
	nc, err := natsgo.Connect(cfg.NATSDestinationURL, natsgo.Name("kenner-destinations"), natsgo.MaxReconnects(-1))
	if err != nil {
		return opts, nil, fmt.Errorf("nats-destination-url: %w", err)
	}
	opts.Publish = nc
	return opts, nc.Close, nil
}

// addLogFlags defines the flags that choose and shape the log, and the soft memory limit
// (memoryLimit MiB by default).
func addLogFlags(cmd *cobra.Command, memoryLimit int64) {
	f := cmd.Flags()
	f.String("nats", "", "URL of an external NATS JetStream server; empty runs one embedded")
	f.String("nats-listen", "", "also let NATS clients connect to the embedded server at HOST:PORT (off by default)")
	f.String("nats-stream", "events", "JetStream stream of the event log; its subjects are kenner.STREAM.<partition>")
	f.Int("partitions", 4, "log partitions (fixed when the log is created)")
	f.Int("nats-replicas", 1, "with --nats: copies JetStream keeps of the log, the changes stream and the leases (3 on a three-node NATS cluster), set when they are created")
	f.String("sync", "1s", `how often the log fsyncs: a duration, or "always" to fsync every append`)
	f.StringSlice("retention", nil, "how long data is kept, class=duration: events, type:<type>, event:<name>, audit (e.g. events=760d,type:page=395d); the most specific rule wins; the log keeps events as long as the longest rule")
	f.Int64("memory-limit", memoryLimit, "soft memory limit in MiB for the Go runtime (0: none; GOMEMLIMIT overrides)")
}

// openLog opens the configured log: embedded in DATA/log, or the external NATS server.
func openLog(ctx context.Context, cfg config, logger *slog.Logger) (*nats.Log, error) {
	always, every, _ := cfg.syncPolicy()
	return nats.Open(ctx, nats.Options{
		URL: cfg.NATS, Dir: filepath.Join(cfg.Data, "log"), Listen: cfg.NATSListen,
		Stream: cfg.NATSStream, Subject: "kenner." + cfg.NATSStream,
		Partitions: cfg.Partitions, SyncAlways: always, SyncInterval: every, Replicas: cfg.NATSReplicas,
		MaxAge: privacy.LogMaxAge(cfg.Retention),
	}, logger)
}

// changesOptions names the changes stream after the event stream: "changes" next to the
// default "events", STREAM-changes next to any other, so that deployments (and tests) that
// share a NATS server with their own event streams do not share changes either.
func changesOptions(cfg config) nats.ChangesOptions {
	name := "changes"
	if cfg.NATSStream != "events" {
		name = cfg.NATSStream + "-changes"
	}
	return nats.ChangesOptions{Stream: name, Subject: "kenner." + name, MaxAge: cfg.ChangesMaxAge}
}

// serveMemoryLimit is the default soft memory limit of long-running commands (serve, replay);
// batchMemoryLimit that of imports and syncs, which hold a few chunks of rows and the keys
// of every person they create: under serve's limit the garbage collector ran without pause
// and a million-row import took a fifth longer.
//
// 1 GiB, not 512 MiB: under the tracking API's load the embedded JetStream server alone keeps
// about 200 MB of 8 MB block buffers in the heap, and at 512 MiB the collector ran without
// pause (a fifth of the CPU) and emptied the server's buffer pools, which then allocated
// (and zeroed) new blocks. At 1 GiB `kenner bench ingest` (16 × 100) accepted 22.4–24.3k
// events/s against 14.5–15.4k, p50 49–57 ms against 84–96 ms, for an RSS of 1.34 GB
// against 0.74 GB (BENCHMARKS.md). A small machine sets --memory-limit lower.
const (
	serveMemoryLimit = 1024
	batchMemoryLimit = 0
)

// gcPercent is the garbage collector's target under a soft memory limit (GOGC's 100 without
// one). The limit already bounds the heap, so collecting at 200 % growth rather than 100 %
// halves the collections of a lightly loaded server: the personalization decision API's p99
// at 2,000 requests/s on 1M profiles went from 3.9–6.9 ms to 2.6–3.6 ms, while the tracking
// API under load, which runs at the limit either way, did not move (BENCHMARKS.md).
const gcPercent = 200

// setMemoryLimit applies --memory-limit: a soft limit makes the garbage collector work harder
// as the process nears it, instead of letting the heap double freely under sustained load.
// GOMEMLIMIT overrides it, GOGC the collector's target.
func setMemoryLimit(cfg config) {
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit << 20)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
	}
}

// openExclusive is how serve and replay start: the soft memory limit, the data directory taken
// for this process alone, the store and the log. closeAll closes them in order: store, log,
// then the lock.
func openExclusive(ctx context.Context, cfg config, logger *slog.Logger) (app *local, log *nats.Log, closeAll func(), err error) {
	setMemoryLimit(cfg)
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("data directory: %w", err)
	}
	release, err := lockData(cfg.Data)
	if err != nil {
		return nil, nil, nil, err
	}
	if app, err = openLocal(ctx, cfg, logger); err != nil {
		release()
		return nil, nil, nil, err
	}
	if log, err = openLog(ctx, cfg, logger); err != nil {
		app.store.Close()
		release()
		return nil, nil, nil, err
	}
	return app, log, func() { app.store.Close(); log.Close(); release() }, nil
}

// procEngines gives the journeys the processor's engines; the processor is built after the
// runner (activation, which the processor wakes, needs the runner's email sender).
type procEngines struct{ p **process.Processor }

func (e procEngines) Engine(ctx context.Context, ws string) (*segment.Engine, error) {
	return (*e.p).Engine(ctx, ws)
}

// eventRetention is how long events are kept (the "events" retention rule; 0: for ever):
// analytics leaves older events out as the store deletes them.
func eventRetention(rules []privacy.RetentionRule) time.Duration {
	for _, r := range rules {
		if r.Class == "events" {
			return r.Keep
		}
	}
	return 0
}

// journeySignals tells every node's journey runner (the leader's runs them) of a journey
// published, paused, resumed or archived through this one.
type journeySignals struct {
	*journey.Runner
	signals *cluster.Signals
}

func (j journeySignals) Changed() { j.signals.Send("journeys") }

// registerClusterMetrics exports this node's share of the work.
func registerClusterMetrics(reg prometheus.Registerer, c server.Cluster) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kenner_cluster_partitions_held", Help: "Log partitions this node processes."},
			func() float64 { return float64(len(c.Status().Held)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kenner_cluster_leader", Help: "1 when this node runs the jobs that run once (segment builds, journey timers, retention, scheduled training)."},
			func() float64 {
				if c.Status().Leader {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kenner_cluster_nodes", Help: "Live nodes this node sees."},
			func() float64 { return float64(len(c.Status().Nodes)) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kenner_cluster_leases_lost_total", Help: "Partition leases this node gave up because a newer holder fenced its writes."},
			func() float64 { return float64(c.Status().LeasesLost) }),
	)
}
