package main

import (
	"context"
	"log/slog"
	"os/user"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// auditCLI records an admin command run directly on a data directory or store (no server,
// so no token): the actor is the operating-system user, the action the command, the status
// what an HTTP call would have answered. The API's own calls are audited by the server.
func auditCLI(ctx context.Context, store kenner.Store, logger *slog.Logger, ws, action, target string, err error) {
	actor := "cli"
	if u, uerr := user.Current(); uerr == nil {
		actor = "cli:" + u.Username
	}
	status := 200
	if err != nil {
		status = web.Status(kenner.ErrorCode(err))
	}
	e := &kenner.AuditEntry{WorkspaceID: ws, At: time.Now().UTC(), Actor: actor, Role: kenner.RoleOwner,
		Action: action, Target: target, Status: status, RemoteAddr: "local"}
	if aerr := store.AppendAudit(context.WithoutCancel(ctx), e); aerr != nil {
		logger.Error("audit log", "action", action, "err", aerr)
	}
}
