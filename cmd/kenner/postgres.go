package main

import (
	"context"

	"github.com/kenner-cdp/kenner"
)

func openPostgres(ctx context.Context, url string) (kenner.Store, error) {
	return nil, kenner.Errorf(kenner.EInvalid, "the postgres store is not built into this version")
}
