package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/analytics/projection"
	"github.com/kenner-cdp/kenner/web"
)

// revenueFigures are a range's revenue in one look: what it took, from how many orders and
// customers, and what an order and a customer were worth.
type revenueFigures struct {
	From               time.Time `json:"from"`
	To                 time.Time `json:"to"`
	Revenue            float64   `json:"revenue"`
	Orders             float64   `json:"orders"`
	Customers          float64   `json:"customers"`
	AverageOrder       float64   `json:"average_order_value"`
	RevenuePerCustomer float64   `json:"revenue_per_customer"`
}

// revenueFiguresOf measures the range with three trends over the projection.
func revenueFiguresOf(ctx context.Context, a Analytics, ws string, tq projection.TrendQuery) (revenueFigures, []time.Time, []float64, error) {
	f := revenueFigures{From: tq.From, To: tq.To}
	var periods []time.Time
	var perPeriod []float64
	for _, m := range []string{analytics.Sum, analytics.Count, analytics.Unique} {
		q := tq
		q.Measure, q.Breakdown = m, ""
		ps, series, err := a.Trend(ctx, ws, q)
		if err != nil {
			return f, nil, nil, err
		}
		var total float64
		if len(series) > 0 {
			total = series[0].Total
		}
		switch m {
		case analytics.Sum:
			f.Revenue, periods = total, ps
			perPeriod = make([]float64, len(ps))
			if len(series) > 0 {
				perPeriod = series[0].Values
			}
		case analytics.Count:
			f.Orders = total
		case analytics.Unique:
			f.Customers = total
		}
	}
	if f.Orders > 0 {
		f.AverageOrder = f.Revenue / f.Orders
	}
	if f.Customers > 0 {
		f.RevenuePerCustomer = f.Revenue / f.Customers
	}
	return f, periods, perPeriod, nil
}

// analyticsRevenue is the revenue dashboard's report: the range's revenue, orders, customers,
// average order value and revenue per customer against the period before, the revenue per
// period, and its split by the customers' first-touch channel.
func (s *Server) analyticsRevenue(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	a, q, from, to, loc := ar.a, ar.q, ar.from, ar.to, ar.loc
	event := q.Get("event")
	if event == "" {
		event = kenner.DefaultOrderEvent
	}
	interval := q.Get("interval")
	if interval == "" {
		interval = analytics.Day
	}
	tq := projection.TrendQuery{Event: event, Interval: interval, From: from, To: to, Location: loc}
	cur, periods, perPeriod, err := revenueFiguresOf(r.Context(), a, tok.WorkspaceID, tq)
	if err != nil {
		return err
	}
	prevQ := tq
	prevQ.From, prevQ.To = from.Add(-to.Sub(from)), from
	prev, _, prevPerPeriod, err := revenueFiguresOf(r.Context(), a, tok.WorkspaceID, prevQ)
	if err != nil {
		return err
	}
	byChannel := tq
	byChannel.Measure, byChannel.Breakdown = analytics.Sum, "first_touch_channel"
	_, series, err := a.Trend(r.Context(), tok.WorkspaceID, byChannel)
	if err != nil {
		return err
	}
	type channelShare struct {
		Channel string  `json:"channel"`
		Revenue float64 `json:"revenue"`
		Share   float64 `json:"share"`
	}
	channels := []channelShare{}
	for _, sr := range series {
		c := channelShare{Channel: sr.Breakdown, Revenue: sr.Total}
		if cur.Revenue > 0 {
			c.Share = sr.Total / cur.Revenue
		}
		channels = append(channels, c)
	}
	if wantsCSV(r) {
		var rows [][]string
		for i, p := range periods {
			prevV := ""
			if i < len(prevPerPeriod) {
				prevV = num(prevPerPeriod[i])
			}
			rows = append(rows, []string{p.Format(time.DateOnly), num(perPeriod[i]), prevV})
		}
		writeTable(w, "revenue", []string{"period", "revenue", "previous_period_revenue"}, rows)
		return nil
	}
	change := func(now, before float64) any {
		if before == 0 {
			return nil
		}
		v, _ := strconv.ParseFloat(strconv.FormatFloat((now-before)/before, 'f', 4, 64), 64)
		return v
	}
	web.JSON(w, http.StatusOK, map[string]any{"event": event, "interval": interval, "current": cur, "previous": prev,
		"change": map[string]any{"revenue": change(cur.Revenue, prev.Revenue), "orders": change(cur.Orders, prev.Orders),
			"customers": change(cur.Customers, prev.Customers), "average_order_value": change(cur.AverageOrder, prev.AverageOrder)},
		"periods": periods, "revenue_by_period": nonNil(perPeriod), "previous_by_period": nonNil(prevPerPeriod), "by_channel": channels})
	return nil
}
