"""Demo chat applications for channelstream (Pyramid and Flask backends)."""
