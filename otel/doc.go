// Package svcotel traces and measures svcclient calls with OpenTelemetry.
package svcotel
