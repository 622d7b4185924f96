package server

import (
	_ "embed"
	"net/http"
)

// openAPI documents every endpoint; TestOpenAPICoversRoutes keeps it in step with the router.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
