"""Persistent, schedulable triggers for Django."""
