"""Dashboard widgets, each updated from a computed State."""
