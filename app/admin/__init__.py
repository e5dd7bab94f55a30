"""The admin API (port 8001): thin flask-smorest blueprints over `app.services`."""
