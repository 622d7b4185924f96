package main

import (
	"context"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/postgres"
)

func openPostgres(ctx context.Context, url string) (kenner.Store, error) {
	return postgres.Open(ctx, url)
}
