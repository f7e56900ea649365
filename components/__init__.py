"""Reusable Pulumi components for Rocket.Chat on Kubernetes (README: "Reusing the components")."""

__version__ = "0.1.0"
