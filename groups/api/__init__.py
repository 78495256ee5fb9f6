"""/api/0/ resources of the groups app: issues, their events and tags."""
