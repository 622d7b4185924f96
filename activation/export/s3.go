package export

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// S3Config is where files are uploaded: any S3-compatible storage (AWS S3, MinIO, R2, GCS's
// interoperability API, ...). Keys left out are read from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, so that they need not be stored in the destination.
type S3Config struct {
	// Endpoint is the service's URL, e.g. "https://s3.eu-west-1.amazonaws.com" or
	// "http://127.0.0.1:9000" (default https://s3.amazonaws.com).
	Endpoint        string `json:"endpoint"`
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix"` // put before every object name, e.g. "audiences/"
	Region          string `json:"region"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// PathStyle addresses the bucket in the path rather than the host name (MinIO and most
	// self-hosted storage need it).
	PathStyle bool `json:"path_style"`
}

type uploader struct {
	client *minio.Client
	cfg    S3Config
}

func newUploader(c S3Config, policy egress.Policy) (*uploader, error) {
	if c.Bucket == "" {
		return nil, activation.Invalid("config.s3.bucket is required")
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, activation.Invalid("config.s3.endpoint must be an http(s) URL with no path, such as https://s3.amazonaws.com, not %q", c.Endpoint)
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return nil, activation.Invalid("config.s3.endpoint: %s", kenner.ErrorMessage(err))
	}
	creds := credentials.NewEnvAWS()
	if c.AccessKeyID != "" || c.SecretAccessKey != "" {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, activation.Invalid("config.s3 needs both access_key_id and secret_access_key, or neither (then they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
		}
		creds = credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, "")
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	tr.DialContext = policy.Dialer(10 * time.Second).DialContext
	tr.Proxy = nil
	client, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: c.Region, BucketLookup: lookup, Transport: tr})
	if err != nil {
		return nil, activation.Invalid("config.s3: %v", err)
	}
	return &uploader{client: client, cfg: c}, nil
}

func (u *uploader) upload(ctx context.Context, name, path, contentType string) error {
	key := strings.TrimPrefix(u.cfg.Prefix, "/") + name
	if _, err := u.client.FPutObject(ctx, u.cfg.Bucket, key, path, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		// The storage's own error codes (NoSuchBucket, AccessDenied) help; anything else is
		// told generically, as for every destination (no view of internal services).
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code != "" {
			return fmt.Errorf("upload s3://%s/%s: %s", u.cfg.Bucket, key, er.Code)
		}
		return fmt.Errorf("upload s3://%s/%s: %w", u.cfg.Bucket, key, egress.Generic(err))
	}
	return nil
}
