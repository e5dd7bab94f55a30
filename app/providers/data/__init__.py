"""Provider price lists (JSON), shipped as package data and read by `app.providers.pricing`."""
