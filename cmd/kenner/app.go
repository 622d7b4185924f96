package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// bootstrapWorkspace is the workspace made on first start.
const bootstrapWorkspace = kenner.DeploymentWorkspace

// credentialsFile is written once, on first start, with the credentials a new user needs.
const credentialsFile = "initial-credentials.json"

// local is what commands that work on the data directory share.
type local struct {
	cfg    config
	store  kenner.Store
	creds  *auth.Service
	users  *auth.Users
	logger *slog.Logger
	// keys encrypt events in the log per person; suppress is the list of erased identifiers.
	keys     *privacy.Keys
	suppress *privacy.Suppressor
}

// sealed is the log as every component sees it: events encrypted per person, erased ones
// unreadable, suppressed ones dropped at append.
func (l *local) sealed(log kenner.Log, reg prometheus.Registerer) *privacy.SealedLog {
	return privacy.NewSealedLog(log, l.keys, l.suppress, reg)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openLocal opens the store of the data directory (creating both as needed) and makes sure the
// bootstrap workspace exists.
func openLocal(ctx context.Context, cfg config, logger *slog.Logger) (*local, error) {
	privateFiles()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	tightenData(cfg.Data, logger)
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	kek, err := loadKEK(cfg, secret)
	if err != nil {
		store.Close()
		return nil, err
	}
	fields, err := privacy.OpenFieldCipher(ctx, store, kek, cfg.PII)
	if err != nil {
		store.Close()
		return nil, err
	}
	store = privacy.NewSealedStore(store, fields)
	keys := privacy.NewKeys(store, secret)
	hasher := auth.NewHasher(secret)
	l := &local{cfg: cfg, store: store, creds: auth.NewService(store, hasher), users: auth.NewUsers(store, hasher), logger: logger,
		keys: keys, suppress: privacy.NewSuppressor(store, keys, logger)}
	if err := l.bootstrap(ctx); err != nil {
		store.Close()
		return nil, err
	}
	if err := l.checkWorkspace(ctx); err != nil {
		store.Close()
		return nil, err
	}
	if err := keys.Check(ctx); err != nil {
		store.Close()
		return nil, err
	}
	if err := l.suppress.Refresh(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("load suppression list: %w", err)
	}
	return l, nil
}

func openStore(ctx context.Context, cfg config) (kenner.Store, error) {
	switch {
	case cfg.Store == "" || cfg.Store == "sqlite":
		return sqlite.Open(ctx, filepath.Join(cfg.Data, "kenner.db"))
	case strings.HasPrefix(cfg.Store, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(cfg.Store, "sqlite:"))
	case strings.HasPrefix(cfg.Store, "postgres://"), strings.HasPrefix(cfg.Store, "postgresql://"):
		return openPostgres(ctx, cfg.Store)
	default:
		return nil, usageError{fmt.Errorf("store must be empty (embedded), sqlite:PATH or postgres://..., not %q", cfg.Store)}
	}
}

// loadSecret reads the instance secret, creating it on first start. Credentials are stored as
// hashes keyed with it, so nodes sharing a store must share the secret (KENNER_SECRET or
// --secret-file).
func loadSecret(cfg config) ([]byte, error) {
	if s := os.Getenv("KENNER_SECRET"); s != "" {
		if len(s) < 32 {
			return nil, usageError{errors.New("KENNER_SECRET must be at least 32 characters")}
		}
		return []byte(s), nil
	}
	path := cfg.SecretFile
	if path == "" {
		path = filepath.Join(cfg.Data, "secret.key")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("secret file %s: must hold at least 32 characters", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) || cfg.SecretFile != "" {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadSecret(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret file: %w", err)
	}
	return []byte(s), f.Close()
}

// loadKEK reads the key that encrypts the store's data key: KENNER_ENCRYPTION_KEY, else
// --encryption-key-file, else one derived from the instance secret (so a copy of the database
// alone reveals nothing; keeping the key apart from the data directory protects against a
// copy of the whole directory too).
func loadKEK(cfg config, secret []byte) ([]byte, error) {
	if v := os.Getenv("KENNER_ENCRYPTION_KEY"); v != "" {
		k, err := parseKey(v)
		if err != nil {
			return nil, usageError{fmt.Errorf("KENNER_ENCRYPTION_KEY: %w", err)}
		}
		return k, nil
	}
	if cfg.EncryptionKeyFile != "" {
		return readKeyFile(cfg.EncryptionKeyFile)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kenner/store-kek"))
	return m.Sum(nil), nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("encryption key file: %w", err)}
	}
	k, err := parseKey(string(b))
	if err != nil {
		return nil, usageError{fmt.Errorf("encryption key file %s: %w", path, err)}
	}
	return k, nil
}

// parseKey reads a 32-byte key written as hex or base64 (openssl rand -base64 32).
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, errors.New("want 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)")
}

// bootstrapOwnerEmail is the console login of the first owner; change it by creating
// another owner (kenner user create) and deleting this one.
const bootstrapOwnerEmail = "owner@kenner.local"

// bootstrap makes the first workspace with a source named "default" and an owner token, and
// writes their credentials to DATA/initial-credentials.json, once.
func (l *local) bootstrap(ctx context.Context) error {
	made, err := auth.CreateWorkspace(ctx, l.store, l.creds, l.users, &kenner.Workspace{ID: bootstrapWorkspace, Name: "default"}, bootstrapOwnerEmail)
	if kenner.ErrorCode(err) == kenner.EConflict {
		return nil
	}
	if err != nil {
		return err
	}
	path := filepath.Join(l.cfg.Data, credentialsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		l.logger.Warn("not rewriting existing credentials file; the new workspace's credentials were not saved", "path", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]string{"write_key": made.WriteKey, "admin_token": made.AdminToken,
		"console_email": made.ConsoleEmail, "console_password": made.ConsolePassword}); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	l.logger.Info("created workspace, source \"default\" and an owner token", "credentials", path)
	return nil
}

// checkWorkspace makes sure the workspace named by --workspace exists.
func (l *local) checkWorkspace(ctx context.Context) error {
	if l.cfg.Workspace == bootstrapWorkspace {
		return nil
	}
	wss, err := l.store.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, w := range wss {
		if w.ID == l.cfg.Workspace {
			return nil
		}
	}
	return usageError{fmt.Errorf("--workspace: no workspace %q (kenner workspace list shows them)", l.cfg.Workspace)}
}
