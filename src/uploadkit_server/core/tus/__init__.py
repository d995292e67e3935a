"""Resumable uploads over the tus 1.0 protocol, into the same file model as the REST flow."""
