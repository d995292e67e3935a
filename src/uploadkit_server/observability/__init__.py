"""Operations: Prometheus metrics, readiness, request ids and structured logs."""
