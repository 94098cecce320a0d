"""Pyramid views, one class per audience: ``api`` (signed backend calls), ``client`` (browsers:
ws, listen, disconnect), ``admin``; ``errors`` turns exceptions into JSON answers."""
