package predict

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"

	"github.com/kenner-cdp/kenner"
)

// Fit describes how a maximum-likelihood fit went.
type Fit struct {
	LogLik     float64 `json:"log_likelihood"`
	Iterations int     `json:"iterations"`
	// Converged is false when the optimizer stopped before the gradient vanished (too many
	// iterations, or no progress): the parameters are the best found, not a maximum.
	Converged bool   `json:"converged"`
	Status    string `json:"status"`
}

// maxIterations bounds a fit; the models here converge in tens of iterations.
const maxIterations = 1000

// minimize minimizes f (which fills its gradient when asked) from x0 with BFGS, and falls back
// to Nelder-Mead when BFGS stops without converging (a flat or badly scaled likelihood).
func minimize(f func(x, grad []float64) float64, x0 []float64) ([]float64, Fit, error) {
	p := optimize.Problem{
		Func: func(x []float64) float64 { return f(x, nil) },
		Grad: func(grad, x []float64) { f(x, grad) },
	}
	set := &optimize.Settings{MajorIterations: maxIterations, GradientThreshold: 1e-8}
	res, err := optimize.Minimize(p, x0, set, &optimize.BFGS{})
	if res != nil && (err == nil || res.Status == optimize.GradientThreshold) && converged(res) {
		return res.X, Fit{Iterations: res.MajorIterations, Converged: true, Status: res.Status.String()}, nil
	}
	start := x0
	if res != nil && allFinite(res.X) {
		start = res.X
	}
	nm, err2 := optimize.Minimize(optimize.Problem{Func: p.Func}, start, &optimize.Settings{MajorIterations: 20 * maxIterations}, &optimize.NelderMead{})
	if nm == nil || !allFinite(nm.X) || math.IsNaN(nm.F) {
		return nil, Fit{}, kenner.Errorf(kenner.EInvalid, "the fit did not converge: %v", errors.Join(err, err2))
	}
	// Polish with BFGS from where Nelder-Mead stopped, so the gradient test says whether the
	// point is a maximum.
	res, _ = optimize.Minimize(p, nm.X, set, &optimize.BFGS{})
	if res != nil && converged(res) && res.F <= nm.F+1e-12 {
		return res.X, Fit{Iterations: nm.MajorIterations + res.MajorIterations, Converged: true, Status: res.Status.String()}, nil
	}
	return nm.X, Fit{Iterations: nm.MajorIterations, Converged: false, Status: nm.Status.String()}, nil
}

func converged(r *optimize.Result) bool {
	switch r.Status {
	case optimize.GradientThreshold, optimize.FunctionConvergence:
		return allFinite(r.X) && !math.IsNaN(r.F)
	}
	return false
}

func allFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return len(x) > 0
}

// finite rejects a fit whose parameters or likelihood are not finite numbers: such a fit
// would look valid in a model card while meaning nothing.
func finite(model string, v ...float64) error {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
			return kenner.Errorf(kenner.EInvalid, "the %s fit is degenerate (a parameter went to 0 or infinity): the data do not identify the model", model)
		}
	}
	return nil
}

// hyp2f1 is the Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, summed as its
// power series. The terms are formed by their ratio, so no factorial or Gamma overflows; the
// series converges like z^k, which takes a few thousand terms at worst for the z of BG/NBD
// (t / (alpha + T + t)).
func hyp2f1(a, b, c, z float64) (float64, error) {
	if z < 0 || z >= 1 {
		return 0, fmt.Errorf("hyp2f1: z=%g out of [0, 1)", z)
	}
	sum, term := 1.0, 1.0
	for k := 0.0; k < 200000; k++ {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
		sum += term
		if math.Abs(term) <= 1e-15*math.Abs(sum) {
			return sum, nil
		}
		if math.IsInf(sum, 0) || math.IsNaN(sum) {
			break
		}
	}
	return 0, fmt.Errorf("hyp2f1(%g, %g; %g; %g) did not converge", a, b, c, z)
}
