"""The kit import pipeline: staging sink, derived rows, import record, commit and recovery."""
