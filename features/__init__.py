"""Lake events → sessions → model features → anonymized training sets (one feature definition for all)."""
