package predict

import (
	"math"
	"slices"
	"sort"
)

// AUC is the area under the ROC curve: the probability that a random positive example scores
// above a random negative one (ties count half). NaN when a class is missing.
func AUC(scores, labels []float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Mann-Whitney: sum of the positives' ranks, tied scores sharing their mean rank.
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mean := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if labels[idx[k]] == 1 {
				rankSum += mean
				pos++
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// LogLoss is the mean negative log-likelihood of the labels under the predicted probabilities.
func LogLoss(p, labels []float64) float64 {
	var s float64
	for i, v := range p {
		v = min(max(v, 1e-15), 1-1e-15)
		if labels[i] == 1 {
			s -= math.Log(v)
		} else {
			s -= math.Log(1 - v)
		}
	}
	return s / float64(len(p))
}

// CalibrationBin is one band of predicted probability: how many examples fell in it, what was
// predicted on average and what happened.
type CalibrationBin struct {
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Count     int     `json:"count"`
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
}

// Calibration bins predictions into ten bands of equal count (deciles), so that each band
// has enough examples for its observed rate to mean something.
func Calibration(p, labels []float64) []CalibrationBin {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	const bins = 10
	var out []CalibrationBin
	for b := 0; b < bins; b++ {
		lo, hi := b*len(idx)/bins, (b+1)*len(idx)/bins
		if lo == hi {
			continue
		}
		bin := CalibrationBin{From: p[idx[lo]], To: p[idx[hi-1]], Count: hi - lo}
		for _, i := range idx[lo:hi] {
			bin.Predicted += p[i]
			bin.Observed += labels[i]
		}
		bin.Predicted /= float64(bin.Count)
		bin.Observed /= float64(bin.Count)
		out = append(out, bin)
	}
	return out
}
