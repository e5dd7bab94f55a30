"""Admin use cases: validate against what is stored, write, and make the change visible to proxies."""
