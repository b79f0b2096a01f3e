"""Performance measurement of toxhooks against the floor of its own web stack (FastAPI + uvicorn)."""
