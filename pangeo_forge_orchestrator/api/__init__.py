"""Public and admin REST routers, their schemas and dependencies."""
