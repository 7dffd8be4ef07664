"""Sandbox processes that run plan code apart from the worker (`isolation="process"`)."""
