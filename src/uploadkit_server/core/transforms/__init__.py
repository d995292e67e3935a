"""Image transformations: resized, re-encoded variants of stored images, served from storage."""
