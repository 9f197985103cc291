package keyed

import "unsafe"

// unsafeBytes views s as bytes for hashing; the hash never writes to it.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
