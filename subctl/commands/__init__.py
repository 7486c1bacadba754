"""CLI commands, one module per noun. Thin: parse options, call a service, hand the result to
the output sink."""
