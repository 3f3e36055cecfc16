"""In-process Python runtimes that load an exported artifact and run it on a float32 batch."""
