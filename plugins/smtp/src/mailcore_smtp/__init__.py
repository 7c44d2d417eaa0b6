"""SMTP backend (being written)."""
