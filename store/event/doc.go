// Package event knows the shape of an agenttrail Event: which kind of step it
// records, which class of information each of its fields holds, and how it
// splits into the header and content that the Merkle log commits to.
//
// The class of every field is declared in the proto definitions with the
// agenttrail.v1.field_class option; this package reads it from the
// descriptors, so storage, redaction and documentation share one source of
// truth. A field of message type whose class is METADATA is a container: its
// own fields are split one by one. Any other class takes the whole field.
//
// Split and Join are exact inverses for every valid Event: the header and the
// content never hold the same scalar, list or map field, so merging them
// restores the original (proto.Merge in Go, MergeFrom in Python, mergeFrom in
// TypeScript).
package event
