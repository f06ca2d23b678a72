"""Alert outputs beyond Redis: webhooks (HTTP POST, signed, retried, dead-lettered)."""
