"""Bolt listeners, one module per concern; each module's `register_…(app, …)` adds its own."""
