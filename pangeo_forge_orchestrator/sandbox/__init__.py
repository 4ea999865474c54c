"""The sandbox: a GitHub simulator and the demo, for running the service with no credentials."""
