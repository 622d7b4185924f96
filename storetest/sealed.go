package storetest

import (
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
)

// Sealed opens stores through open and wraps them in privacy.SealedStore, so that the suites
// also hold with personal data encrypted at rest.
func Sealed(open Opener) Opener {
	return func(t *testing.T) kenner.Store {
		s := open(t)
		c, err := privacy.OpenFieldCipher(t.Context(), s, []byte("0123456789abcdef0123456789abcdef"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return privacy.NewSealedStore(s, c)
	}
}
