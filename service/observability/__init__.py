"""Observability: Prometheus metrics, structured JSON logs and optional OpenTelemetry tracing."""
