"""Property-based fuzzing of message building (issue 6, item 4): hostile text in every
header field and attachment file name either raises a clear error or round-trips exactly."""
