"""The ``ppstack`` command. Layers never import this package."""
