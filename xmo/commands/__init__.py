"""CLI sub-commands, one module per group."""
