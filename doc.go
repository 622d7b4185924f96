// Package kenner holds the domain types of the Kenner customer data platform and the small
// contracts (store, log) that have more than one real implementation. Everything that does I/O
// lives in a sub-package named after its concern or dependency; cmd/kenner wires them together.
package kenner
