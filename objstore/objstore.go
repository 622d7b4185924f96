// Package objstore reads and writes objects of S3-compatible storage (AWS S3, MinIO, R2, GCS's
// interoperability API) through the MinIO client: exports upload files to it, and scheduled
// syncs import the files that appear in it.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/egress"
)

// Config is where the objects are. Keys left out are read from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, so that they need not be stored in Kenner.
type Config struct {
	// Endpoint is the service's URL, e.g. "https://s3.eu-west-1.amazonaws.com" or
	// "http://127.0.0.1:9000" (default https://s3.amazonaws.com).
	Endpoint        string `json:"endpoint"`
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix"` // e.g. "audiences/": put before the names written, or the folder read
	Region          string `json:"region"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// PathStyle addresses the bucket in the path rather than the host name (MinIO and most
	// self-hosted storage need it).
	PathStyle bool `json:"path_style"`
}

// Client reads and writes one bucket.
type Client struct {
	client *minio.Client
	cfg    Config
}

// New checks the config (errors name its fields after field, e.g. "config.s3") and returns a
// client whose connections go only where policy allows.
func New(c Config, policy egress.Policy, field string) (*Client, error) {
	if c.Bucket == "" {
		return nil, kenner.Errorf(kenner.EInvalid, "%s.bucket is required", field)
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, kenner.Errorf(kenner.EInvalid, "%s.endpoint must be an http(s) URL with no path, such as https://s3.amazonaws.com, not %q", field, c.Endpoint)
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "%s.endpoint: %s", field, kenner.ErrorMessage(err))
	}
	creds := credentials.NewEnvAWS()
	if c.AccessKeyID != "" || c.SecretAccessKey != "" {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, kenner.Errorf(kenner.EInvalid, "%s needs both access_key_id and secret_access_key, or neither (then they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", field)
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
		return nil, kenner.Errorf(kenner.EInvalid, "%s: %v", field, err)
	}
	return &Client{client: client, cfg: c}, nil
}

// describe tells an error of the storage: its own error codes (NoSuchBucket, AccessDenied)
// help; anything else is told generically (no view of internal services).
func describe(what string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code != "" {
		return kenner.Errorf(kenner.EUnavailable, "%s: %s", what, er.Code)
	}
	return fmt.Errorf("%s: %w", what, egress.Generic(err))
}

// Upload puts the file at path under the prefix and name.
func (c *Client) Upload(ctx context.Context, name, path, contentType string) error {
	key := strings.TrimPrefix(c.cfg.Prefix, "/") + name
	if _, err := c.client.FPutObject(ctx, c.cfg.Bucket, key, path, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return describe(fmt.Sprintf("upload s3://%s/%s", c.cfg.Bucket, key), err)
	}
	return nil
}

// Object is a file in the bucket: its key and version (ETag).
type Object struct {
	Key  string
	ETag string
	Size int64
}

// List lists the objects under the prefix, in key order.
func (c *Client) List(ctx context.Context) ([]Object, error) {
	var out []Object
	for o := range c.client.ListObjects(ctx, c.cfg.Bucket, minio.ListObjectsOptions{Prefix: strings.TrimPrefix(c.cfg.Prefix, "/"), Recursive: true}) {
		if o.Err != nil {
			return nil, describe(fmt.Sprintf("list s3://%s/%s", c.cfg.Bucket, c.cfg.Prefix), o.Err)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a folder marker
		}
		out = append(out, Object{Key: o.Key, ETag: strings.Trim(o.ETag, `"`), Size: o.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Open reads an object.
func (c *Client) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := c.client.GetObject(ctx, c.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, describe(fmt.Sprintf("read s3://%s/%s", c.cfg.Bucket, key), err)
	}
	return obj, nil
}
