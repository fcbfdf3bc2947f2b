package transport

import (
	"encoding/base64"
	"strings"
)

// Metadata keys ending in "-bin" carry binary values. On text-only wires
// (HTTP headers, AMQP string headers) they travel base64-encoded, as gRPC's
// HTTP/2 mapping and the Connect protocol carry them.
const binarySuffix = "-bin"

// IsBinaryKey reports whether a metadata key carries binary values.
func IsBinaryKey(key string) bool { return strings.HasSuffix(key, binarySuffix) }

// EncodeMetadataValue returns value as it travels on a text wire.
func EncodeMetadataValue(key, value string) string {
	if IsBinaryKey(key) {
		return base64.RawStdEncoding.EncodeToString([]byte(value))
	}
	return value
}

// DecodeMetadataValue reverses EncodeMetadataValue. Binary values are
// accepted padded or unpadded, as grpc-go accepts them.
func DecodeMetadataValue(key, value string) (string, error) {
	if !IsBinaryKey(key) {
		return value, nil
	}
	if len(value)%4 == 0 {
		b, err := base64.StdEncoding.DecodeString(value)
		return string(b), err
	}
	b, err := base64.RawStdEncoding.DecodeString(value)
	return string(b), err
}
