package kenner

import "time"

// DeploymentWorkspace is the workspace made on the first start. Its owners own the deployment:
// they alone create and delete the other workspaces. A fixed id makes concurrent first starts
// of a cluster's nodes agree on it.
const DeploymentWorkspace = "ws_default"

// Workspace is a tenant: every source, token, event and profile belongs to exactly one.
type Workspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Source is one origin of data (a website, an app, a server, an import). Its write key is shown
// once at creation; the store keeps only a keyed hash of it.
type Source struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"workspace_id"`
	Name         string    `json:"name"`
	WriteKeyHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// Settings are empty for a source that only takes the tracking API's events as they are.
	Settings SourceSettings `json:"settings"`
}

// Role is what a token or console user may do. Roles are ordered: each one may do everything
// the roles below it may do.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner    Role = "owner"
	RoleAdmin    Role = "admin"
	RoleMarketer Role = "marketer"
	RoleAnalyst  Role = "analyst"
	RoleViewer   Role = "viewer"
)

var roleRank = map[Role]int{RoleOwner: 5, RoleAdmin: 4, RoleMarketer: 3, RoleAnalyst: 2, RoleViewer: 1}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return roleRank[r] > 0 }

// AtLeast reports whether r is as powerful as min.
func (r Role) AtLeast(min Role) bool { return roleRank[r] >= roleRank[min] && r.Valid() }

// SeesPII reports whether holders of r see identifiers and PII traits unmasked.
func (r Role) SeesPII() bool { return r.AtLeast(RoleMarketer) }

// Token is an admin API credential. Only a keyed hash of the secret is stored.
type Token struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Name        string     `json:"name"`
	Role        Role       `json:"role"`
	Hash        string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the token may be used at time now.
func (t *Token) Active(now time.Time) bool {
	if t.RevokedAt != nil {
		return false
	}
	return t.ExpiresAt == nil || now.Before(*t.ExpiresAt)
}
