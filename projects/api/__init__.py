"""/api/0/ resources of the projects app: projects and keys, releases and deploys."""
