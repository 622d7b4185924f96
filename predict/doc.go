// Package predict holds the models behind Kenner's predictions: RFM cells, BG/NBD (who is still
// a customer and how often they will buy), Gamma-Gamma (what they spend), customer lifetime value,
// and regularized logistic regression for churn and propensity, with the metrics of a model card.
//
// The package is pure: it fits and scores summaries of purchase histories and feature vectors
// handed to it, and knows nothing of stores or events. Likelihoods are computed in log space and
// maximized with gonum's optimizers over log-parameters, so that every parameter stays positive.
package predict
