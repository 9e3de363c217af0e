"""The nettrim experiment harness: ``python -m nettrim.experiments NAME [options]``."""
