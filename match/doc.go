// Package match links records that name the same person without sharing an identifier:
// Fellegi-Sunter record linkage with its parameters estimated by expectation-maximization (no
// labelled data needed), comparisons in levels per field (exact, Jaro-Winkler, edit distance,
// phonetic), term-frequency adjustment for exact agreement, blocking rules that keep the
// candidate pairs far below n², and clustering with a guard against chaining.
//
// The package is pure: it links records handed to it. Match weights are log2 Bayes factors,
// summed over the fields, so that no probability saturates at 1.
package match
