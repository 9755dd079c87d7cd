"""The searchable index in the bucket: segments + manifest (catalog), indexing, search, export."""
