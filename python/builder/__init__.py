"""deploykit's builder: trains the seed models, exports every artifact, writes the manifest."""

__version__ = "0.3.0"
