"""Webhooks: durable ``onUploadComplete`` deliveries, signed for QStash and Standard Webhooks
receivers, retried, dead-lettered and redeliverable."""
