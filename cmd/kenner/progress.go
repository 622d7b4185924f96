package main

import (
	"fmt"
	"io"
	"time"
)

// progressBar draws one line of progress on a terminal (on false: nothing): a bar and its
// percentage when the total is known, what was done, the rate, and the time left.
type progressBar struct {
	w     io.Writer
	on    bool
	total int64 // of what update's done counts (bytes, records); 0: unknown
	start time.Time
	last  time.Time
	drawn bool
}

// update draws the progress of an import: bytes read of total, and rows (-1: not counted).
func (p *progressBar) update(bytes int64, rows int) {
	what := fmt.Sprintf("%.1f MB", float64(bytes)/1e6)
	rate := ""
	if rows >= 0 {
		what += fmt.Sprintf(", %d rows", rows)
		rate = fmt.Sprintf("%.0f rows/s", float64(rows)/max(time.Since(p.start).Seconds(), 1e-3))
	}
	p.draw(bytes, what, rate)
}

// draw shows done of total with a description and a rate.
func (p *progressBar) draw(done int64, what, rate string) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	line := ""
	if p.total > 0 {
		const width = 30
		frac := min(float64(done)/float64(p.total), 1)
		n := int(frac * width)
		bar := make([]byte, width)
		for i := range bar {
			switch {
			case i < n:
				bar[i] = '='
			case i == n:
				bar[i] = '>'
			default:
				bar[i] = ' '
			}
		}
		line = fmt.Sprintf("[%s] %3.0f%% ", bar, frac*100)
		what += eta(frac, time.Since(p.start))
	}
	line += what
	if rate != "" {
		line += " (" + rate + ")"
	}
	fmt.Fprintf(p.w, "\r%-100s", line)
	p.drawn = true
}

// eta is ", N left" from the fraction done and the time it took.
func eta(frac float64, elapsed time.Duration) string {
	if frac <= 0.001 || frac >= 1 {
		return ""
	}
	left := time.Duration(float64(elapsed) * (1 - frac) / frac)
	return ", " + left.Round(time.Second).String() + " left"
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%-100s\r", "")
		p.drawn = false
	}
}
