package kenner

// Built-in identifier kinds. Any other kind is an external id configured by the workspace
// (crm_id, shopify_id, device_id, ga_client_id, ...).
const (
	KindUserID      = "user_id"
	KindAnonymousID = "anonymous_id"
	KindEmail       = "email"
	KindPhone       = "phone"
)

// Identifier is one normalized identifier of a person.
type Identifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// String formats the identifier as kind:value, the form the profile API uses.
func (id Identifier) String() string { return id.Kind + ":" + id.Value }
