"""Tokenizer vocabularies (gzip), shipped as package data and read by `app.providers.tokens`."""
