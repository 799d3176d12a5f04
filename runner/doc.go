// Package runner is everything between Amperity's Webhook destination and
// the place the records go. A handler gives it a Sink (usually the
// HTTPSink) and passes Runner.Handle to lambda.Start; the runner parses the
// request, streams the NDJSON file from its pre-signed URL (resuming broken
// downloads with Range requests, decoding gzip), splits it into records of
// any length, batches them by count and bytes, hands batches to the sink
// with bounded concurrency, and reports running/succeeded/failed with
// progress to Amperity's status callback, retrying and throttling as
// Amperity's API expects. Every job ends in exactly one final report.
//
// Records flow as raw bytes unless a mapping asks to decode them: with no
// mapping the HTTP sink builds each request body by concatenation.
//
// Secrets stay out of sight: the access token, Authorization headers and
// pre-signed URL signatures never reach logs or status reports.
package runner
