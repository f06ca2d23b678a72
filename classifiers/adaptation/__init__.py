"""Per-camera adapted heads: operators' labels turned into versioned head corrections (docs/adaptation.md)."""
