"""`python -m builder bench`: inference and training speed of every runtime."""
