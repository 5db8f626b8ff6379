"""Evidence documents both sides read identically (import records; evidence packets later)."""
