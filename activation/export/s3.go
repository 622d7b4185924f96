package export

import (
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/objstore"
)

// S3Config is where files are uploaded: any S3-compatible storage.
type S3Config = objstore.Config

func newUploader(c S3Config, policy egress.Policy) (*objstore.Client, error) {
	up, err := objstore.New(c, policy, "config.s3")
	if kenner.ErrorCode(err) == kenner.EInvalid {
		return nil, activation.Invalid("%s", kenner.ErrorMessage(err))
	}
	return up, err
}
