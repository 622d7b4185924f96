// Package analytics holds the marketing and product analytics that read a person's history:
// touchpoints and channels, attribution under seven models (first touch, last touch, last
// non-direct, linear, time decay, position based, and the data-driven Markov chain removal
// effect), funnels, retention cohorts and trends.
//
// The package is pure: it works on histories handed to it, one person's events in time order,
// already joined across devices by identity resolution. Where the histories come from, and
// how fast, is the engine's concern.
package analytics
