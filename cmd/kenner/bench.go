package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load generators for measuring Kenner"}
	in := &cobra.Command{
		Use:   "ingest",
		Short: "Measure the tracking API: events/s and request latency under concurrent clients",
		Long: `Sends batches of ~500-byte Segment track events from --clients concurrent clients for
--duration and reports events/s, p50/p99 request latency and errors.

Without --url it measures, in the same run and with the same load, a no-op server that only
reads each request and decodes its JSON, then a fresh kenner serve on a temporary data
directory, and prints both and their ratios (what BENCHMARKS.md reports).`,
		Args: cobra.NoArgs,
		RunE: runBenchIngest,
	}
	f := in.Flags()
	f.Int("clients", 16, "concurrent clients")
	f.Int("batch", 100, "events per request (1 sends to /v1/track, more to /v1/batch)")
	f.Duration("duration", 15*time.Second, "how long to send, after a 2s warm-up")
	f.String("write-key", "", "write key of the server at --url")
	f.String("kenner-args", "", "extra flags for the kenner serve under test, e.g. \"--sync always\"")
	noop := &cobra.Command{
		Use:    "noop-server",
		Short:  "Serve a tracking endpoint that only reads and decodes requests (the baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, _ := cmd.Flags().GetString("addr")
			return runNoop(cmd.Context(), addr, cmd.OutOrStdout())
		},
	}
	noop.Flags().String("addr", "127.0.0.1:0", "listen address")
	cmd.AddCommand(in, noop, newBenchImportCmd())
	return cmd
}

type benchResult struct {
	name     string
	events   int64
	requests int64
	errors   int64
	elapsed  time.Duration
	p50, p99 time.Duration
	rssMB    float64
	peakMB   float64
}

func (r benchResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func runBenchIngest(cmd *cobra.Command, _ []string) error {
	clients, _ := cmd.Flags().GetInt("clients")
	batch, _ := cmd.Flags().GetInt("batch")
	duration, _ := cmd.Flags().GetDuration("duration")
	writeKey, _ := cmd.Flags().GetString("write-key")
	extra, _ := cmd.Flags().GetString("kenner-args")
	if clients < 1 || batch < 1 || batch > 1000 || duration <= 0 {
		return usageError{errors.New("--clients >= 1, --batch from 1 to 1000 and a positive --duration are needed")}
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	ctx := cmd.Context()
	fmt.Fprintf(out, "load: %d clients x %d events/request, %s (after 2s warm-up)\n", clients, batch, duration)
	if cfg.URL != "" {
		if writeKey == "" {
			return usageError{errors.New("--url needs --write-key")}
		}
		r := loadTest(ctx, "server", cfg.URL, writeKey, clients, batch, duration)
		printResults(out, r)
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	noopProc, noopURL, err := startChild(ctx, self, "bench", "noop-server")
	if err != nil {
		return err
	}
	noop := loadTest(ctx, "no-op server", noopURL, "none", clients, batch, duration)
	noop.rssMB, noop.peakMB = memoryOf(noopProc.Process.Pid)
	stopChild(noopProc)

	dir, err := os.MkdirTemp("", "kenner-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:" + strconv.Itoa(port), "--log-level", "warn"}
	args = append(args, strings.Fields(extra)...)
	kp := exec.CommandContext(ctx, self, args...)
	kp.Stderr = os.Stderr
	if err := kp.Start(); err != nil {
		return err
	}
	defer stopChild(kp)
	kURL := "http://127.0.0.1:" + strconv.Itoa(port)
	creds, err := waitForCredentials(ctx, dir, kURL)
	if err != nil {
		return err
	}
	k := loadTest(ctx, "kenner", kURL, creds.WriteKey, clients, batch, duration)
	k.rssMB, k.peakMB = memoryOf(kp.Process.Pid)
	printResults(out, noop, k)
	fmt.Fprintf(out, "ratio: throughput %.2f of no-op (target >= 0.6), p99 %.2fx of no-op (target <= 2)\n",
		k.rate()/noop.rate(), float64(k.p99)/float64(max(noop.p99, time.Microsecond)))
	return nil
}

func printResults(w io.Writer, results ...benchResult) {
	fmt.Fprintf(w, "%-14s %12s %10s %10s %10s %8s %14s\n", "server", "events/s", "requests", "p50", "p99", "errors", "rss/peak MB")
	for _, r := range results {
		fmt.Fprintf(w, "%-14s %12.0f %10d %10s %10s %8d %7.0f/%.0f\n", r.name, r.rate(), r.requests,
			r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors, r.rssMB, r.peakMB)
	}
}

// loadTest runs the load and measures only what happens after the warm-up.
func loadTest(ctx context.Context, name, base, writeKey string, clients, batch int, duration time.Duration) benchResult {
	path := "/v1/batch"
	if batch == 1 {
		path = "/v1/track"
	}
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	var measuring atomic.Bool
	var events, requests, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	warm := 2 * time.Second
	ctx, cancel := context.WithTimeout(ctx, warm+duration)
	defer cancel()
	time.AfterFunc(warm, func() { measuring.Store(true) })
	start := time.Now().Add(warm)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			gen := newEventGen(c)
			for ctx.Err() == nil {
				body := gen.body(batch)
				req, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(body))
				req.SetBasicAuth(writeKey, "")
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				ok := err == nil && resp.StatusCode == 200
				var answer []byte
				if resp != nil {
					answer, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if ctx.Err() != nil || !measuring.Load() {
					continue
				}
				requests.Add(1)
				if !ok {
					if errs.Add(1) == 1 { // the first failure says what the others likely were
						what := fmt.Sprint(err)
						if err == nil {
							what = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer))
						}
						fmt.Fprintf(os.Stderr, "%s: first failed request: %s\n", name, what)
					}
					continue
				}
				events.Add(int64(batch))
				lat[c] = append(lat[c], d)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := benchResult{name: name, events: events.Load(), requests: requests.Load(), errors: errs.Load(), elapsed: time.Since(start)}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

// eventGen builds realistic ~500-byte Segment track events with unique message ids.
type eventGen struct {
	client int
	n      int
}

func newEventGen(client int) *eventGen { return &eventGen{client: client} }

func (g *eventGen) body(batch int) []byte {
	var b bytes.Buffer
	if batch > 1 {
		b.WriteString(`{"batch":[`)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		g.n++
		fmt.Fprintf(&b, `{"type":"track","event":"Product Viewed","messageId":"bench-%d-%d-%d","anonymousId":"anon-%d-%d","userId":"user-%d-%d",`+
			`"timestamp":%q,"properties":{"product_id":"P%05d","sku":"SKU-%d","category":"shoes","name":"Trail Runner 2","brand":"Kenner","price":89.99,"currency":"EUR","quantity":1},`+
			`"context":{"library":{"name":"analytics-node","version":"2.1.0"},"ip":"203.0.113.7","locale":"de-DE",`+
			`"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",`+
			`"page":{"path":"/products/trail-runner-2","url":"https://shop.example.com/products/trail-runner-2?utm_source=news&utm_medium=email"}}}`,
			time.Now().UnixNano(), g.client, g.n, g.client, g.n%5000, g.client, g.n%5000, now, g.n%10000, g.n%777)
	}
	if batch > 1 {
		b.WriteString(`]}`)
	}
	return b.Bytes()
}

// runNoop is the baseline server: it reads each request, decodes its JSON and answers 200.
func runNoop(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, `{"error":{"code":"invalid","message":"bad json"}}`, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"success":true}`))
	})}
	fmt.Fprintf(out, "http://%s\n", ln.Addr())
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startChild starts a kenner subcommand that prints its URL as its first line.
func startChild(ctx context.Context, self string, args ...string) (*exec.Cmd, string, error) {
	c := exec.CommandContext(ctx, self, args...)
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.Process.Kill()
		return nil, "", fmt.Errorf("child %v: %w", args, err)
	}
	return c, strings.TrimSpace(line), nil
}

func stopChild(c *exec.Cmd) {
	if c.ProcessState != nil {
		return
	}
	c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type initialCredentials struct {
	WriteKey        string `json:"write_key"`
	AdminToken      string `json:"admin_token"`
	ConsoleEmail    string `json:"console_email"`
	ConsolePassword string `json:"console_password"`
}

// waitForCredentials waits until a fresh server has bootstrapped and answers /readyz.
func waitForCredentials(ctx context.Context, dir, base string) (initialCredentials, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b, err := os.ReadFile(filepath.Join(dir, credentialsFile))
		if err == nil {
			var c initialCredentials
			if json.Unmarshal(b, &c) == nil && c.WriteKey != "" {
				if resp, err := http.Get(base + "/readyz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return c, nil
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return initialCredentials{}, fmt.Errorf("server at %s did not become ready", base)
}

// memoryOf reads a process's resident and peak resident memory in MB (Linux).
func memoryOf(pid int) (rss, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}
