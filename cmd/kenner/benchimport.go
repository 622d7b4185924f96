package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newBenchImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Measure bulk import: rows/s of kenner import on generated files",
		Long: `Writes two CSV files to a temporary directory: --rows people (identify: messy emails,
phones, names and countries to standardize) and --rows orders of those people (track). Then
runs kenner import on a fresh data directory, as separate processes: the people, the same
people again (every row a duplicate), then the orders; and prints rows/s and peak memory of
each (what BENCHMARKS.md reports).`,
		Args: cobra.NoArgs,
		RunE: runBenchImport,
	}
	cmd.Flags().Int("rows", 1_000_000, "rows per file")
	cmd.Flags().String("keep", "", "write the files and data here and keep them (default: a temporary directory, removed)")
	return cmd
}

func runBenchImport(cmd *cobra.Command, _ []string) error {
	rows, _ := cmd.Flags().GetInt("rows")
	dir, _ := cmd.Flags().GetString("keep")
	if rows < 1 {
		return usageError{fmt.Errorf("--rows must be positive")}
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "kenner-bench-import-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := writeBenchFiles(dir, rows); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%-26s %10s %12s %10s\n", "import", "rows", "rows/s", "peak RSS")
	data := filepath.Join(dir, "data")
	for _, run := range []struct{ name, file, typ, mapping string }{
		{"people (new, identify)", "people.csv", "identify", "people.yaml"},
		{"people again (duplicates)", "people.csv", "identify", "people.yaml"},
		{"orders (track)", "orders.csv", "track", "orders.yaml"},
	} {
		c := exec.CommandContext(cmd.Context(), self, "import", filepath.Join(dir, run.file), "--data", data,
			"--as", run.typ, "--map", filepath.Join(dir, run.mapping), "--default-region", "DE", "--no-progress", "--log-level", "warn")
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		start := time.Now()
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s: %v\n%s%s", run.name, err, stdout.String(), stderr.String())
		}
		took := time.Since(start)
		var peak float64
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = float64(ru.Maxrss) / 1024
		}
		fmt.Fprintf(out, "%-26s %10d %12.0f %8.0f MB\n", run.name, rows, float64(rows)/took.Seconds(), peak)
	}
	return nil
}

func writeBenchFiles(dir string, rows int) error {
	countries := []string{"Germany", "DE", "deutschland", "France", "UK", "USA", "Österreich", "ch"}
	write := func(name string, fill func(w *bufio.Writer)) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fill(w)
		// Synced, so that writing the files back to disk does not run during the imports
		// they are timing.
		if err := errors.Join(w.Flush(), f.Sync()); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	err := write("people.csv", func(w *bufio.Writer) {
		w.WriteString("Customer ID;E-Mail;Phone;First Name;Country;Plan;Signed up\n")
		for i := range rows {
			fmt.Fprintf(w, "c%d; User%d@Example.COM ;+49 30 %07d;USER%d;%s;%s;%02d.%02d.20%02d\n",
				i, i, i%10_000_000, i, countries[i%len(countries)], []string{"free", "pro"}[i%2], 1+i%28, 1+i%12, 10+i%15)
		}
	})
	if err != nil {
		return err
	}
	err = write("orders.csv", func(w *bufio.Writer) {
		w.WriteString("order_id,customer,total,currency,placed\n")
		for i := range rows {
			fmt.Fprintf(w, "o%d,c%d,\"%d,%02d\",eur,2024-%02d-%02dT10:%02d:00Z\n", i, (i*7919)%rows, 10+i%990, i%100, 1+i%12, 1+i%28, i%60)
		}
	})
	if err != nil {
		return err
	}
	maps := map[string]string{
		"people.yaml": "columns:\n  Customer ID: userId\n  E-Mail: traits.email\n  Phone: traits.phone\n  First Name: traits.first_name\n" +
			"  Country: traits.country\n  Plan: traits.plan\n  Signed up: {target: traits.created_at, type: date, format: DD.MM.YYYY}\n",
		"orders.yaml": "event: Order Completed\ncolumns:\n  order_id: properties.order_id\n  customer: userId\n" +
			"  total: {target: properties.revenue, type: number}\n  currency: properties.currency\n  placed: timestamp\n",
	}
	for name, body := range maps {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}
