"""Reports regenerated from stored trajectories and manifests alone (never re-running a search)."""
