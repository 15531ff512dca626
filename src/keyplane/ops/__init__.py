"""Running keyplane as several replicas: cache invalidation, shared limits, metrics, logs."""
