"""The planner's Jinja2 prompt templates, shipped as package data."""
