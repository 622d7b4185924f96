package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kenner-cdp/kenner"
)

// testModels: a model comes back as stored with its parameters, names are unique per workspace,
// every change of a model changes the definitions version, versions list newest first, and
// deleting a model deletes its versions.
func testModels(t *testing.T, s kenner.Store) {
	for _, ws := range []string{"ws_m", "ws_n"} {
		if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: ws, Name: ws}); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
			t.Fatal(err)
		}
	}
	version := func() int64 {
		b, err := s.Build(ctx(t), "ws_m")
		if err != nil {
			t.Fatal(err)
		}
		return b.Version
	}
	v0 := version()
	clv := &kenner.Model{WorkspaceID: "ws_m", Name: "clv", Kind: kenner.ModelCLV, Event: "Order Completed", Revenue: "properties.revenue",
		HorizonDays: 365, DiscountRate: 0.1, Status: kenner.ModelUntrained, Retrain: kenner.Duration(24 * time.Hour)}
	if err := s.CreateModel(ctx(t), clv); err != nil {
		t.Fatal(err)
	}
	if clv.ID == "" || clv.CreatedAt.IsZero() {
		t.Fatalf("created %+v", clv)
	}
	v1 := version()
	if v1 <= v0 {
		t.Errorf("definitions version %d after creating a model, was %d", v1, v0)
	}
	if err := s.CreateModel(ctx(t), &kenner.Model{WorkspaceID: "ws_m", Name: "clv", Kind: kenner.ModelCLV}); kenner.ErrorCode(err) != kenner.EConflict {
		t.Errorf("same name twice: %v, want conflict", err)
	}
	if err := s.CreateModel(ctx(t), &kenner.Model{WorkspaceID: "ws_n", Name: "clv", Kind: kenner.ModelCLV}); err != nil {
		t.Errorf("same name in another workspace: %v", err)
	}
	opts := []cmp.Option{cmpopts.EquateApproxTime(time.Millisecond), cmp.Transformer("json", func(r json.RawMessage) string {
		var v any
		json.Unmarshal(r, &v)
		b, _ := json.Marshal(v)
		return string(b)
	})}
	got, err := s.Model(ctx(t), "ws_m", clv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, clv, opts...); diff != "" {
		t.Errorf("Model (-got +want):\n%s", diff)
	}

	// A training: a version, then the model points at it.
	trained := time.Now().UTC().Truncate(time.Millisecond)
	ver := &kenner.ModelVersion{ModelID: clv.ID, Version: 1, Status: kenner.ModelTrained, TrainedAt: trained,
		Params: json.RawMessage(`{"bgnbd":{"r":0.243}}`), Card: json.RawMessage(`{"customers":2357}`)}
	if err := s.AddModelVersion(ctx(t), "ws_m", ver); err != nil {
		t.Fatal(err)
	}
	if err := s.AddModelVersion(ctx(t), "ws_m", ver); kenner.ErrorCode(err) != kenner.EConflict {
		t.Errorf("version 1 twice: %v, want conflict", err)
	}
	failed := &kenner.ModelVersion{ModelID: clv.ID, Version: 2, Status: kenner.ModelFailed, Message: "no repeat buyer", TrainedAt: trained}
	if err := s.AddModelVersion(ctx(t), "ws_m", failed); err != nil {
		t.Fatal(err)
	}
	clv.Version, clv.Params, clv.Card, clv.TrainedAt, clv.Status = 1, ver.Params, ver.Card, trained, kenner.ModelTrained
	if err := s.UpdateModel(ctx(t), clv); err != nil {
		t.Fatal(err)
	}
	if v2 := version(); v2 <= v1 {
		t.Errorf("definitions version %d after a training, was %d", v2, v1)
	}
	got, _ = s.Model(ctx(t), "ws_m", clv.ID)
	if diff := cmp.Diff(got, clv, opts...); diff != "" {
		t.Errorf("Model after training (-got +want):\n%s", diff)
	}
	vs, err := s.ModelVersions(ctx(t), "ws_m", clv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(vs, []kenner.ModelVersion{*failed, *ver}, opts...); diff != "" {
		t.Errorf("ModelVersions (-got +want):\n%s", diff)
	}
	ms, _ := s.Models(ctx(t), "ws_m")
	if len(ms) != 1 || ms[0].ID != clv.ID {
		t.Errorf("Models = %+v", ms)
	}

	if err := s.UpdateModel(ctx(t), &kenner.Model{WorkspaceID: "ws_m", ID: "mdl_none", Name: "x"}); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("update unknown: %v, want not_found", err)
	}
	if err := s.DeleteModel(ctx(t), "ws_m", clv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Model(ctx(t), "ws_m", clv.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("deleted model: %v, want not_found", err)
	}
	if vs, _ := s.ModelVersions(ctx(t), "ws_m", clv.ID); len(vs) != 0 {
		t.Errorf("versions of a deleted model: %+v", vs)
	}
	if err := s.DeleteModel(ctx(t), "ws_m", clv.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("delete twice: %v, want not_found", err)
	}
}
