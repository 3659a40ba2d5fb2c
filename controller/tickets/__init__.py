"""Alert-to-ticket: rules decide, connectors deliver tickets to the built-in store or a PSA."""
