"""Layer 4: the DynamoDB serving cache. ``keys`` is shared with the API handlers (stdlib only)."""
