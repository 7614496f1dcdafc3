//! Input file -> validated rows for one target (stub)
