"""Plain data and rules of the gateway: no Flask, SQL, Redis or gevent here."""
