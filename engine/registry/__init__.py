"""A client of OCI distribution registries: auth, credentials, manifests and blobs."""
