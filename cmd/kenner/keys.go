package main

import (
	"fmt"

	"github.com/kenner-cdp/kenner/privacy"
	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the keys that encrypt personal data at rest"}
	rotate := &cobra.Command{
		Use:   "rotate --new-key-file FILE",
		Short: "Encrypt the store's data key with a new key-encryption key",
		Long: `Rotate the key-encryption key: the store's data key, which encrypts emails, phones, PII
traits, event bodies and delivery payloads, is decrypted with the current key (KENNER_ENCRYPTION_KEY,
--encryption-key-file, or the one derived from the instance secret) and stored encrypted with the
new one. Nothing else is rewritten, so it takes a moment whatever the size of the store, and
running servers keep working. Restart every node with the new key (--encryption-key-file FILE or
KENNER_ENCRYPTION_KEY); the old key opens nothing any more.

Make a key with: openssl rand -base64 32 > new.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			path, _ := cmd.Flags().GetString("new-key-file")
			if path == "" {
				return usageError{fmt.Errorf("--new-key-file is required")}
			}
			newKEK, err := readKeyFile(path)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			secret, err := loadSecret(cfg)
			if err != nil {
				return err
			}
			oldKEK, err := loadKEK(cfg, secret)
			if err != nil {
				return err
			}
			store, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			err = privacy.RotateKEK(ctx, store, oldKEK, newKEK)
			auditCLI(ctx, store, newLogger(cfg, cmd.ErrOrStderr()), bootstrapWorkspace, "cli keys rotate", "key-encryption key", err)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: start every node with --encryption-key-file %s (or KENNER_ENCRYPTION_KEY)\n", path)
			return nil
		},
	}
	rotate.Flags().String("new-key-file", "", "file with the new 32-byte key (base64 or hex)")
	cmd.AddCommand(rotate)
	return cmd
}
