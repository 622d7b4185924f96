// Package nats is the event log on NATS JetStream: an embedded server in the same process by
// default (file storage, in-process connection, no TCP listener), or an external server or
// cluster for scale-out. The same code path serves both.
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var _ kenner.Log = (*Log)(nil)

// Options configure the log.
type Options struct {
	// URL of an external NATS server; empty runs an embedded server storing in Dir.
	URL string
	Dir string
	// Listen, for the embedded server only, makes it also accept TCP clients (e.g. "127.0.0.1:4333").
	// Empty means no listener at all.
	Listen string
	// Stream and Subject name the JetStream stream and its subject prefix; tests use unique ones.
	Stream  string
	Subject string
	// Partitions is fixed when the stream is created: the mapping of identities to partitions
	// must never change under existing data.
	Partitions int
	// SyncAlways fsyncs every append (embedded only); otherwise the server fsyncs every
	// SyncInterval and a kill loses nothing, a power loss at most that interval.
	SyncAlways   bool
	SyncInterval time.Duration
	Replicas     int
	MaxAge       time.Duration
}

const (
	headerWorkspace = "Kenner-Workspace"
	headerSource    = "Kenner-Source"
	headerFormat    = "Kenner-Format"
	formatFrames    = "1"
	metaPartitions  = "kenner_partitions"
	// maxRecordBytes keeps every record under NATS' default 1 MiB payload limit, so that an
	// external server needs no special configuration.
	maxRecordBytes = 900 << 10
)

// Log is a kenner.Log on JetStream.
type Log struct {
	opts Options
	srv  *server.Server // nil when external
	nc   *natsgo.Conn
	js   jetstream.JetStream
	// rc is the readers' own connection (rjs its JetStream): the server cuts a connection
	// whose undelivered messages pass its limit (a slow consumer), and readers falling behind
	// under load must not take the tracking API's appends down with them (they did: 503s
	// "server is disconnected" at 25k events/s).
	rc       *natsgo.Conn
	rjs      jetstream.JetStream
	rclosed  chan struct{}
	stream   jetstream.Stream
	logger   *slog.Logger
	appender *appender
	closed   chan struct{} // closed when the connection has closed (after a drain)
	skipped  atomic.Int64

	// dest is the embedded server's connection for NATS destinations, as a user that may
	// not publish on Kenner's own subjects or the server's APIs (nil when external).
	dest *natsgo.Conn
}

// Open starts the embedded server or connects to the external one and makes sure the stream
// exists with the expected partitioning.
func Open(ctx context.Context, opts Options, logger *slog.Logger) (*Log, error) {
	if opts.Stream == "" {
		opts.Stream = "events"
	}
	if opts.Subject == "" {
		opts.Subject = "kenner.events"
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 4
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	l := &Log{opts: opts, logger: logger, closed: make(chan struct{}), rclosed: make(chan struct{})}
	onClosed := natsgo.ClosedHandler(func(*natsgo.Conn) { close(l.closed) })
	onReaderClosed := natsgo.ClosedHandler(func(*natsgo.Conn) { close(l.rclosed) })
	var err error
	if opts.URL == "" {
		users := newEmbeddedUsers()
		if l.srv, err = startEmbedded(opts, users, logger); err != nil {
			return nil, err
		}
		own := func(name string, closed natsgo.Option) (*natsgo.Conn, error) {
			return natsgo.Connect("", natsgo.InProcessServer(l.srv), natsgo.Name(name), natsgo.MaxReconnects(-1), closed,
				natsgo.UserInfo(users.kenner.Username, users.kenner.Password))
		}
		if l.nc, err = own("kenner", onClosed); err == nil {
			l.rc, err = own("kenner-readers", onReaderClosed)
		}
		if err == nil {
			l.dest, err = natsgo.Connect("", natsgo.InProcessServer(l.srv), natsgo.Name("kenner-destinations"), natsgo.MaxReconnects(-1),
				natsgo.UserInfo(users.destinations.Username, users.destinations.Password))
		}
	} else {
		l.nc, err = natsgo.Connect(opts.URL, natsgo.Name("kenner"), natsgo.MaxReconnects(-1), natsgo.RetryOnFailedConnect(false), onClosed)
		if err == nil {
			l.rc, err = natsgo.Connect(opts.URL, natsgo.Name("kenner-readers"), natsgo.MaxReconnects(-1), natsgo.RetryOnFailedConnect(false), onReaderClosed)
		}
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	if l.js, err = jetstream.New(l.nc, jetstream.WithPublishAsyncMaxPending(8192)); err != nil {
		l.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if l.rjs, err = jetstream.New(l.rc); err != nil {
		l.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := l.ensureStream(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func startEmbedded(opts Options, users embeddedUsers, logger *slog.Logger) (*server.Server, error) {
	so := &server.Options{
		Users: []*server.User{users.kenner, users.destinations},
		// Clients of --nats-listen connect without credentials, as before users existed,
		// and get Kenner's own rights: that listener is for trusted tools only.
		NoAuthUser: users.kenner.Username,
		ServerName: "kenner-embedded",
		JetStream:  true,
		StoreDir:   opts.Dir,
		DontListen: true,
		NoSigs:     true,
		MaxPayload: 8 << 20,
		// Room for the readers' connection to have all its pulls undelivered (readBufferBytes).
		MaxPending:   128 << 20,
		SyncAlways:   opts.SyncAlways,
		SyncInterval: opts.SyncInterval,
	}
	if opts.Listen != "" {
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, err
		}
		so.DontListen, so.Host, so.Port = false, host, port
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	logger.Info("embedded log started", "dir", opts.Dir, "sync_always", opts.SyncAlways, "listen", opts.Listen)
	return srv, nil
}

func splitHostPort(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			port, err := strconv.Atoi(addr[i+1:])
			if err != nil {
				return "", 0, kenner.Errorf(kenner.EInvalid, "nats listen address %q: bad port", addr)
			}
			return addr[:i], port, nil
		}
	}
	return "", 0, kenner.Errorf(kenner.EInvalid, "nats listen address %q: want HOST:PORT", addr)
}

func (l *Log) subject(p int) string { return l.opts.Subject + "." + strconv.Itoa(p) }

func (l *Log) ensureStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:        l.opts.Stream,
		Subjects:    []string{l.opts.Subject + ".*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    l.opts.Replicas,
		MaxAge:      l.opts.MaxAge,
		Duplicates:  2 * time.Minute,
		MaxMsgSize:  -1,
		Discard:     jetstream.DiscardOld,
		Description: "Kenner raw events: the source of truth that derived state is rebuilt from",
		Metadata:    map[string]string{metaPartitions: strconv.Itoa(l.opts.Partitions)},
	}
	s, err := l.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = l.js.CreateStream(ctx, cfg)
	}
	if err != nil {
		return fmt.Errorf("event stream %s: %w", cfg.Name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("event stream %s: %w", cfg.Name, err)
	}
	if got := info.Config.Metadata[metaPartitions]; got != "" && got != cfg.Metadata[metaPartitions] {
		return kenner.Errorf(kenner.EInvalid, "the log has %s partitions but %d are configured: the partition count cannot change under existing data", got, l.opts.Partitions)
	}
	if info.Config.MaxAge != cfg.MaxAge {
		if s, err = l.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("update event stream: %w", err)
		}
	}
	l.stream = s
	l.appender = newAppender(l)
	return nil
}

// Partitions implements kenner.Log.
func (l *Log) Partitions() int { return l.opts.Partitions }

// Append implements kenner.Log. Concurrent calls are committed together (see appender).
func (l *Log) Append(ctx context.Context, batches []kenner.LogBatch) error {
	return l.appender.append(ctx, batches)
}

// Heads implements kenner.Log.
func (l *Log) Heads(ctx context.Context) ([]uint64, error) {
	heads := make([]uint64, l.opts.Partitions)
	for p := range heads {
		m, err := l.stream.GetLastMsgForSubject(ctx, l.subject(p))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("log head of partition %d: %w", p, err)
		}
		heads[p] = m.Sequence
	}
	return heads, nil
}

// Ping implements kenner.Log.
func (l *Log) Ping(ctx context.Context) error {
	if _, err := l.stream.Info(ctx); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	return nil
}

// Close drains the connection and stops the embedded server.
func (l *Log) Close() error {
	if l.appender != nil {
		l.appender.close()
	}
	if l.dest != nil {
		l.dest.Close()
	}
	if l.rc != nil {
		// Drain lets readers finish what they were handed before the connection closes.
		if l.rc.Drain() == nil {
			select {
			case <-l.rclosed:
			case <-time.After(10 * time.Second):
			}
		}
		l.rc.Close()
	}
	if l.nc != nil {
		if l.nc.Drain() == nil {
			select {
			case <-l.closed:
			case <-time.After(10 * time.Second):
			}
		}
		l.nc.Close()
	}
	if l.srv != nil {
		l.srv.Shutdown()
		l.srv.WaitForShutdown()
	}
	return nil
}

// DeleteStream removes the stream; tests use it to clean up after themselves on a shared server.
func (l *Log) DeleteStream(ctx context.Context) error {
	return l.js.DeleteStream(ctx, l.opts.Stream)
}

// Conn is the log's connection: Kenner's own, with every right on the server.
func (l *Log) Conn() *natsgo.Conn { return l.nc }

// DestinationConn is the connection NATS destinations publish on: on the embedded server, a
// user whose permissions forbid Kenner's subjects and the server's APIs; on an external
// server nil (give destinations a URL with their own, restricted user: see SECURITY.md).
func (l *Log) DestinationConn() *natsgo.Conn { return l.dest }

// Leases opens (creating it when absent) the key-value bucket in which the nodes sharing this
// log hold their leases on its partitions ("<stream>-leases"): keys live ttl after their
// last write. It is file-backed and kept with the stream's replicas, so that its revisions,
// the leases' fencing tokens, only grow.
func (l *Log) Leases(ctx context.Context, ttl time.Duration) (jetstream.KeyValue, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	kv, err := l.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: l.opts.Stream + "-leases", History: 1, TTL: ttl,
		Storage: jetstream.FileStorage, Replicas: info.Config.Replicas,
		Description: "Kenner: which node processes which partition of stream " + l.opts.Stream})
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	return kv, nil
}

// DeleteLeases removes the leases bucket; tests use it to clean up after themselves.
func (l *Log) DeleteLeases(ctx context.Context) error {
	return l.js.DeleteKeyValue(ctx, l.opts.Stream+"-leases")
}
