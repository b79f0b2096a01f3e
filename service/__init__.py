"""toxhooks HTTP service: CDS Hooks protocol, prefetch, auth, feedback storage, CLI."""
