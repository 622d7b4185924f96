package predict

import "math"

// CLV is a customer's lifetime value over a horizon: the purchases BG/NBD expects in each
// period, times the value Gamma-Gamma expects of each, discounted to today per period.
type CLV struct {
	Purchases BGNBD
	Spend     GammaGamma
	// Period is the length of one discounting period in the models' time unit (4.35 weeks
	// for months), Periods how many make the horizon, and Rate the discount rate per period.
	Period  float64
	Periods int
	Rate    float64
}

// Value is the customer's discounted expected value over the horizon.
func (v CLV) Value(c Customer, meanValue float64) (float64, error) {
	value := v.Spend.ExpectedValue(c.X, meanValue)
	var total, prev float64
	for i := 1; i <= v.Periods; i++ {
		e, err := v.Purchases.ExpectedPurchases(c, float64(i)*v.Period)
		if err != nil {
			return 0, err
		}
		total += value * (e - prev) / math.Pow(1+v.Rate, float64(i))
		prev = e
	}
	return total, nil
}
