"""The load and overhead benchmark (`make bench`, i.e. `python -m bench.run`); not part of the tests.

See bench/README.md. Everything here talks to 127.0.0.1 only and stops by itself.
"""
