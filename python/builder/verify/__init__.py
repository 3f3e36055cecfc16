"""`python -m builder verify`: every runtime over every artifact it can load, compared with the reference."""
