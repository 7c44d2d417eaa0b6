"""Amazon SES backend (being written)."""
